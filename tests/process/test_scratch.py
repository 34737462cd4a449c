"""Temporary files hold member ids: one private folder per run, always removed.

Each test points TMPDIR at a folder of its own, so that what the real tap
leaves in its temporary directory can be listed, and nothing else is there.
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.emulatoradmin import EmulatorAdmin, audience
from tests.support.livetap import LiveTap, is_member_record, wait_until
from tests.support.tapdriver import TapRun, run_tap, tap_command

PREFIX = "tap-mx-audience-"
OLD, NEW = "2026-11-20", "2026-11-25"
BIG = 300_000  # 9.9 MB of ids: more than a list's buckets keep in memory
FOREIGN = "another-program-k3x9"


@pytest.fixture
def temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The taps' temporary directory (TMPDIR), holding one folder of another program."""
    folder = tmp_path / "tmp"
    (folder / FOREIGN).mkdir(parents=True)
    monkeypatch.setenv("TMPDIR", str(folder))
    return folder


def _tap_folders(temporary: Path) -> list[Path]:
    return sorted(path for path in temporary.iterdir() if path.name != FOREIGN)


def _spilled(temporary: Path) -> list[Path]:
    """Files holding data in the taps' temporary folders (a lock file holds none)."""
    found = []
    for folder in _tap_folders(temporary):
        try:
            found += [p for p in folder.rglob("*") if p.is_file() and p.stat().st_size]
        except FileNotFoundError:  # removed while being listed
            continue
    return found


def _last_state_of_big_run(tmp_path: Path, config: dict[str, Any]) -> dict[str, Any]:
    """A first run, its stdout in a file (too big to hold): its last STATE.

    Only `audience_members` is selected: 300,000 `membership_changes` records
    through singer-sdk would take most of a minute, and prove nothing here.
    """
    catalog = json.loads(run_tap(tmp_path, config, args=("--discover",)).stdout)
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = (
                    entry["tap_stream_id"] != "membership_changes"
                )
    output = tmp_path / "first.jsonl"
    with output.open("wb") as stdout:
        subprocess.run(
            tap_command(tmp_path, config, catalog=catalog), stdout=stdout, check=True
        )
    with output.open("rb") as lines:
        states = [line for line in lines if line.startswith(b'{"type":"STATE"')]
    state: dict[str, Any] = json.loads(states[-1])["value"]
    return state


def test_ids_left_by_a_killed_run_are_removed_by_the_next_run(
    emulator: EmulatorAdmin, tmp_path: Path, temporary: Path
) -> None:
    emulator.configure([audience("aud_a", BIG, updated_on=OLD)])
    config = emulator.tap_config("aud_a", snapshot_store=str(tmp_path / "snapshots"))
    state = _last_state_of_big_run(tmp_path, config)
    assert _tap_folders(temporary) == []
    emulator.patch("aud_a", offset=4, size=BIG + 3, updated_on=NEW)

    with LiveTap(tmp_path, config, state=state) as diffing:
        wait_until(lambda: bool(_spilled(temporary)))
        diffing.stop_unread(signal.SIGKILL)
    assert diffing.returncode == -signal.SIGKILL
    members = emulator.members("aud_a")
    left_behind = _spilled(temporary)
    assert any(
        line.decode() in members
        for path in left_behind
        for line in path.read_bytes().splitlines()[:10]
    )

    rerun = run_tap(tmp_path, config, state=state)
    assert rerun.returncode == 0, rerun.stderr
    assert len(rerun.records("audience_members")) == 7 + 4
    assert [path.name for path in temporary.iterdir()] == [FOREIGN]


def test_a_scratch_folder_in_use_is_left_alone(
    emulator: EmulatorAdmin, tmp_path: Path, temporary: Path
) -> None:
    """Another run's folder is locked by its live process: a starting run keeps off."""
    emulator.configure([audience("aud_slow", 50), audience("aud_b", 10)])
    emulator.fault("slow_body", id_or_slug="aud_slow", delay_seconds=3, pieces=3)
    slow_config = emulator.tap_config(
        "aud_slow", snapshot_store=str(tmp_path / "slow-store")
    )
    (tmp_path / "slow").mkdir()
    (tmp_path / "other").mkdir()
    with LiveTap(tmp_path / "slow", slow_config) as slow:
        wait_until(lambda: bool(_tap_folders(temporary)))
        (in_use,) = _tap_folders(temporary)
        other = run_tap(
            tmp_path / "other",
            emulator.tap_config("aud_b", snapshot_store=str(tmp_path / "store")),
        )
        assert other.returncode == 0, other.stderr
        assert in_use.is_dir()
        finished = slow.finish()
    assert finished.returncode == 0, finished.stderr
    assert len(finished.member_ids("aud_slow")) == 50
    assert _tap_folders(temporary) == []


@dataclass(frozen=True)
class End:
    """How a run is made to end, once held on a slow download."""

    action: Callable[[LiveTap], TapRun]
    failing_audiences: tuple[str, ...]
    status: int


def _stopped(signum: signal.Signals) -> Callable[[LiveTap], TapRun]:
    return lambda tap: tap.stop(signum)


def _stdout_closed(tap: LiveTap) -> TapRun:
    tap.close_stdout()
    return TapRun(tap.returncode or 0, "", tap.stderr())


ENDS = {
    "returns": End(LiveTap.finish, (), 0),
    "fails": End(LiveTap.finish, ("aud_missing",), 1),
    "SIGTERM": End(_stopped(signal.SIGTERM), (), 128 + signal.SIGTERM),
    "SIGINT": End(_stopped(signal.SIGINT), (), 128 + signal.SIGINT),
    "stdout-closed": End(_stdout_closed, (), 1),
}


@pytest.mark.parametrize("end", ENDS.values(), ids=ENDS.keys())
def test_the_scratch_folder_is_removed_however_the_run_ends(
    emulator: EmulatorAdmin, tmp_path: Path, temporary: Path, end: End
) -> None:
    """The run is held on a slow download of its second audience, then ends."""
    emulator.configure([audience("aud_a", 20), audience("aud_slow", 20)])
    emulator.fault("slow_body", id_or_slug="aud_slow", delay_seconds=2, pieces=2)
    config = emulator.tap_config(
        "aud_a",
        "aud_slow",
        *end.failing_audiences,
        snapshot_store=str(tmp_path / "snapshots"),
        parallel_downloads=1,
    )
    with LiveTap(tmp_path, config) as tap:
        tap.wait_for(is_member_record)
        (scratch,) = _tap_folders(temporary)
        assert scratch.name.startswith(PREFIX)
        assert scratch.stat().st_mode & 0o777 == 0o700
        ended = end.action(tap)
    assert ended.returncode == end.status, ended.stderr
    assert "Traceback" not in ended.stderr
    assert [path.name for path in temporary.iterdir()] == [FOREIGN]
