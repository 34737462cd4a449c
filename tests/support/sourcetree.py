"""Fresh git repositories of the working tree, and what builds from them.

Packaging depends on git (the version comes from tags) and on what a build
directory happens to hold, so the packaging tests build from a snapshot: the
tracked and untracked-but-not-ignored files of this checkout, committed in a
new repository with no tags and no leftovers of earlier builds.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.support.meltano_support import REPO_ROOT

_IDENTITY = ("-c", "user.name=packaging test", "-c", "user.email=test@example.invalid")


def git(repo: Path, *args: str) -> str:
    """Run git in `repo`, with an identity so commits and tags work anywhere."""
    completed = subprocess.run(
        ["git", *_IDENTITY, *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return completed.stdout


def snapshot(dest: Path) -> Path:
    """A new repository at `dest` holding this checkout's files in one commit."""
    listed = git(
        REPO_ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard"
    )
    for name in filter(None, listed.split("\0")):
        source = REPO_ROOT / name
        if source.is_file():  # tracked files deleted in the working tree are gone
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    git(dest, "init", "--quiet", "--initial-branch=main")
    git(dest, "add", "--all")
    git(dest, "commit", "--quiet", "--message", "snapshot")
    return dest


def build(source: Path, out: Path, *kinds: str, isolated: bool = False) -> list[Path]:
    """Build `kinds` (`--sdist`, `--wheel`) of `source` into `out`.

    Without isolation the dev venv's setuptools and setuptools-scm build, in
    about a second; the isolated build installs what `[build-system]` names,
    as pip does for a user.
    """
    isolation = [] if isolated else ["--no-isolation"]
    subprocess.run(
        [sys.executable, "-m", "build", *isolation, *kinds, "--outdir", str(out)],
        cwd=source,
        capture_output=True,
        check=True,
    )
    return sorted(out.iterdir())


def wheel_version(wheel: Path) -> str:
    """The version a wheel's file name declares."""
    return wheel.name.split("-")[1]


def wheel_names(wheel: Path) -> list[str]:
    """Every path inside a wheel."""
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def wheel_text(wheel: Path, suffix: str) -> str:
    """The text of the one member of a wheel whose path ends with `suffix`."""
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(suffix)]
        return archive.read(name).decode()
