"""The README's way in, from a fresh `meltano init` project outside the repo.

The steps are the ones "Add the extractor" documents for a checkout, the
`meltano add` command read from the README itself: add from the Hub
definition with `--no-install`, point the extractor's `pip_url` at this
checkout, `meltano install`, `meltano run` into target-jsonl. target-jsonl
comes fully defined from the repo's meltano.yml, so nothing is looked up on
the Hub.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.emulatoradmin import (
    INSTITUTION,
    EmulatorAdmin,
    audience,
)
from tests.support.meltano_support import (
    REPO_ROOT,
    MeltanoProject,
    load_yaml,
    tap_env,
)

pytestmark = pytest.mark.meltano

AUDIENCES = [
    audience("aud_gold", 120, slug="gold-members", updated_on="2026-11-20"),
    audience("aud_new", 35, updated_on="2026-11-21"),
]
README_CHECKOUT = "path/to/tap-mx-audience"


def _documented_add() -> list[str]:
    """The README's `meltano add ... --from-ref` command, run on this checkout."""
    readme = (REPO_ROOT / "README.md").read_text().replace("\\\n", " ")
    (command,) = [
        line
        for line in readme.splitlines()
        if line.startswith("meltano add ") and "--from-ref" in line
    ]
    return [
        arg.replace(README_CHECKOUT, str(REPO_ROOT)) for arg in shlex.split(command)
    ]


def _plugins(manifest: Path) -> list[tuple[str, str]]:
    return [
        (kind, plugin["name"])
        for kind, plugins in load_yaml(manifest).get("plugins", {}).items()
        for plugin in plugins
    ]


def _install_from_checkout(manifest: Path) -> None:
    """What the README has the user edit, plus the repo's target-jsonl."""
    project = load_yaml(manifest)
    (extractor,) = project["plugins"]["extractors"]
    extractor["pip_url"] = str(REPO_ROOT)
    project["plugins"]["loaders"] = [
        loader
        for loader in load_yaml(REPO_ROOT / "meltano.yml")["plugins"]["loaders"]
        if loader["name"] == "target-jsonl"
    ]
    # Only to install faster than pip; the same packages are installed.
    project["venv"] = {"backend": "uv"}
    manifest.write_text(yaml.safe_dump(project, sort_keys=False))


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_readme_journey_adds_the_plugin_once_installs_and_runs(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure(AUDIENCES)
    home = tmp_path / "analytics"
    sys_dir = home / ".meltano"
    init = MeltanoProject(sys_dir, project_dir=tmp_path).command(
        "init", "--no-usage-stats", home.name
    )
    assert init.returncode == 0, init.output
    audiences = [
        {"id_or_slug": "gold-members", "institution_public_id": INSTITUTION},
        {"id_or_slug": "aud_new", "institution_public_id": INSTITUTION},
    ]
    output = tmp_path / "jsonl"
    project = MeltanoProject(
        sys_dir,
        {
            **tap_env({**emulator.tap_config(), "audiences": audiences}),
            "TARGET_JSONL_DESTINATION_PATH": str(output),
        },
        home,
    )

    meltano, *add_args = _documented_add()
    assert meltano == "meltano"
    add = project.command(*add_args, "--no-install")
    assert add.returncode == 0, add.output
    manifest = home / "meltano.yml"
    assert _plugins(manifest) == [("extractors", "tap-mx-audience")]

    _install_from_checkout(manifest)
    install = project.command("install")
    assert install.returncode == 0, install.output
    assert "Installed 2/2 plugins" in install.output, install.output

    run = project.command("run", "tap-mx-audience", "target-jsonl")
    assert run.returncode == 0, run.output
    members = _jsonl(output / "audience_members.jsonl")
    assert len(members) == 120 + 35
    for definition in AUDIENCES:
        audience_id = definition["audience_id"]
        assert {
            m["member_id"] for m in members if m["audience_id"] == audience_id
        } == emulator.members(audience_id)
    summaries = _jsonl(output / "audiences.jsonl")
    assert sorted((s["audience_id"], s["member_count"]) for s in summaries) == [
        ("aud_gold", 120),
        ("aud_new", 35),
    ]
