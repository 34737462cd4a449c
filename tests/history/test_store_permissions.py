"""A local snapshot store holds member ids: what the tap creates there is owner-only.

The real tap runs with the usual umask 022, under which a plain mkdir or open
gives every local account read access; then the store directory is walked.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.emulatoradmin import EmulatorAdmin, audience
from tests.support.tapdriver import run_tap

OLD, NEW = "2026-11-20", "2026-11-25"


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The umask of most systems, inherited by the taps the test starts."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _modes(root: Path) -> dict[str, int]:
    """Every folder and file under `root` (itself included): its permission bits."""
    return {
        str(path.relative_to(root)): stat.S_IMODE(path.stat().st_mode)
        for path in [root, *root.rglob("*")]
    }


def _two_runs(emulator: EmulatorAdmin, tmp_path: Path, store: Path) -> None:
    """A first run and a second after a change: two tables and a closed segment."""
    emulator.configure([audience("aud_a", 40, updated_on=OLD)])
    config = emulator.tap_config("aud_a", snapshot_store=str(store))
    first = run_tap(tmp_path, config)
    assert first.returncode == 0, first.stderr
    emulator.patch("aud_a", offset=4, size=43, updated_on=NEW)
    second = run_tap(tmp_path, config, state=first.last_state)
    assert second.returncode == 0, second.stderr


@pytest.mark.usefixtures("umask_022")
def test_folders_and_files_the_tap_creates_are_owner_only(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    store = tmp_path / "snapshots"
    _two_runs(emulator, tmp_path, store)
    modes = _modes(store)
    folders = {name: mode for name, mode in modes.items() if (store / name).is_dir()}
    files = {name: mode for name, mode in modes.items() if name not in folders}
    assert len(folders) == 3  # the store, its institution, its audience
    assert len([name for name in files if name.endswith((".table", ".closed"))]) == 3
    assert folders == dict.fromkeys(folders, 0o700)
    assert files == dict.fromkeys(files, 0o600)


@pytest.mark.usefixtures("umask_022")
def test_folders_and_files_already_there_keep_their_modes(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    """An administrator's choice for the store itself is left alone."""
    store = tmp_path / "snapshots"
    institution = store / "INST_TEST"
    institution.mkdir(parents=True)
    store.chmod(0o750)
    institution.chmod(0o755)
    notes = store / "NOTES.txt"
    notes.write_text("kept by the operators\n")
    notes.chmod(0o644)
    _two_runs(emulator, tmp_path, store)
    modes = _modes(store)
    assert modes["."] == 0o750
    assert modes["INST_TEST"] == 0o755
    assert modes["NOTES.txt"] == 0o644
    assert modes["INST_TEST/aud_a"] == 0o700
    written = [name for name in modes if name.endswith((".table", ".closed"))]
    assert len(written) == 3
    assert {modes[name] for name in written} == {0o600}
