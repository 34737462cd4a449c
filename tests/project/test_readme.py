"""The README stays true: its settings table and its test command."""

from __future__ import annotations

from pathlib import Path

from tap_mx_audience.tap import TapMxAudience
from tests.support.tapdriver import run_tap

ROOT = Path(__file__).resolve().parents[2]


def test_readme_settings_table_matches_about(tmp_path: Path) -> None:
    about = run_tap(tmp_path, {}, args=("--about", "--format", "markdown")).stdout
    readme = (ROOT / "README.md").read_text()
    # Less the SDK's, which it merges into the tap's schema in place (--about).
    names = set(TapMxAudience.config_jsonschema["properties"])
    names -= TapMxAudience.builtin_settings()
    own_settings = [
        line
        for line in about.splitlines()
        if line.startswith("| ") and line.split("|")[1].strip() in names
    ]
    assert len(own_settings) == len(names)
    missing = [line for line in own_settings if line not in readme]
    assert missing == []


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci_commands = [
        line
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line and not line.startswith(("#", "set ", "cd "))
    ]
    assert ci_commands == ["bash scripts/test.sh"]
    assert "\nbash scripts/test.sh\n" in readme.split("## ")[0]
