"""What a release ships: the tap's wheel, its version from git, its pins.

Each build starts from a fresh repository of this checkout
(`tests/support/sourcetree.py`), so no tag or leftover of the developer's
clone decides the result.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from tests.support.meltano_support import HUB_DEFINITION, REPO_ROOT, load_yaml
from tests.support.sourcetree import (
    build,
    git,
    snapshot,
    wheel_names,
    wheel_text,
    wheel_version,
)

RELEASE_TAG = re.compile(r"v\d+\.\d+\.\d+")


def _released_tag() -> str:
    """The release tag the Hub definition installs (`...git@vX.Y.Z`)."""
    pip_url: str = load_yaml(HUB_DEFINITION)["pip_url"]
    return pip_url.rpartition("@")[2]


def test_tap_wheel_holds_the_tap_and_its_licence_but_no_emulator(
    tmp_path: Path,
) -> None:
    source = snapshot(tmp_path / "source")
    (wheel,) = build(source, tmp_path / "dist", "--wheel", isolated=True)

    names = wheel_names(wheel)
    dist_info = f"tap_mx_audience-{wheel_version(wheel)}.dist-info/"
    assert [n for n in names if not n.startswith(("tap_mx_audience/", dist_info))] == []
    assert "tap_mx_audience/py.typed" in names
    assert not [n for n in names if "emulator" in n]
    licence = wheel_text(wheel, ".dist-info/licenses/LICENSE")
    assert licence == (REPO_ROOT / "LICENSE").read_text()
    assert "Apache License\n                           Version 2.0" in licence
    assert "License-Expression: Apache-2.0" in wheel_text(wheel, "METADATA")
    entry_points = wheel_text(wheel, "entry_points.txt")
    assert "tap-mx-audience = tap_mx_audience.tap:TapMxAudience.cli" in entry_points
    assert "emulator" not in entry_points
    assert ".dev" in wheel_version(wheel), "no tag: a development version"


def test_emulator_is_a_stdlib_only_distribution_of_its_own(tmp_path: Path) -> None:
    source = snapshot(tmp_path / "source")
    (wheel,) = build(source / "emulator", tmp_path / "dist", "--wheel")

    assert wheel.name.startswith("mx_audience_emulator-")
    names = wheel_names(wheel)
    assert {n.split("/")[0] for n in names} == {
        "mx_audience_emulator",
        f"mx_audience_emulator-{wheel_version(wheel)}.dist-info",
    }
    assert "mx_audience_emulator/py.typed" in names
    assert "Requires-Dist" not in wheel_text(wheel, "METADATA")
    assert "mx-audience-emulator = mx_audience_emulator.__main__:main" in wheel_text(
        wheel, "entry_points.txt"
    )


def test_release_tag_is_the_version_in_full_and_shallow_clones(
    tmp_path: Path,
) -> None:
    tag = _released_tag()
    source = snapshot(tmp_path / "source")
    git(source, "tag", "--annotate", tag, "--message", f"tap-mx-audience {tag}")

    (tagged,) = build(source, tmp_path / "tagged", "--wheel")
    assert wheel_version(tagged) == tag.removeprefix("v")

    shallow_tag = tmp_path / "shallow-tag"
    git(tmp_path, "clone", "--quiet", "--depth=1", f"--branch={tag}",
        source.as_uri(), str(shallow_tag))  # fmt: skip
    (from_tag,) = build(shallow_tag, tmp_path / "from-tag", "--wheel")
    assert wheel_version(from_tag) == tag.removeprefix("v")

    git(source, "commit", "--quiet", "--allow-empty", "--message", "after release")
    shallow_ci = tmp_path / "shallow-ci"
    git(tmp_path, "clone", "--quiet", "--depth=1", source.as_uri(), str(shallow_ci))
    (from_ci,) = build(shallow_ci, tmp_path / "from-ci", "--wheel")
    assert ".dev" in wheel_version(from_ci), "past the tag: a development version"


def test_sdist_and_a_tree_without_git_still_build(tmp_path: Path) -> None:
    tag = _released_tag()
    source = snapshot(tmp_path / "source")
    git(source, "tag", "--annotate", tag, "--message", f"tap-mx-audience {tag}")

    # With no kind given, `build` makes the wheel from the unpacked sdist.
    wheel, sdist = build(source, tmp_path / "dist")
    assert sdist.name == f"tap_mx_audience-{tag.removeprefix('v')}.tar.gz"
    assert wheel_version(wheel) == tag.removeprefix("v")

    # A source archive of the tag (as a forge offers one): no .git, no PKG-INFO.
    archive = tmp_path / "archive.tar"
    git(source, "archive", f"--output={archive}", tag)
    shutil.unpack_archive(archive, tmp_path / "unpacked")
    (fallback,) = build(tmp_path / "unpacked", tmp_path / "from-archive", "--wheel")
    assert wheel_version(fallback) == "0.0.0"


def test_hub_and_readme_pin_one_release_of_one_repository() -> None:
    hub = load_yaml(HUB_DEFINITION)
    tag = _released_tag()
    assert RELEASE_TAG.fullmatch(tag), tag
    assert hub["pip_url"] == f"git+{hub['repo']}.git@{tag}"
    readme = (REPO_ROOT / "README.md").read_text()
    assert set(RELEASE_TAG.findall(readme)) == {tag}
    assert "github.com" not in readme, "the repository URL lives in the Hub file"
