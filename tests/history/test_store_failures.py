"""A store that cannot be written, reached or read: one line per audience, no wrong row.

Through the real CLI: each affected audience fails with one line naming the
store and what is wrong, without a traceback; nothing is sent for it and its
state does not move; the other audiences are delivered. A corrupt log is set
aside, so the recovery its line gives works exactly as written.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.emulatoradmin import EmulatorAdmin, audience
from tests.support.s3server import CREDENTIALS
from tests.support.tapdriver import TapRun, run_tap
from tests.support.upsert import UpsertTarget

DAY1, DAY2 = "2026-11-20", "2026-11-21"
AUDIENCES = ("aud_a", "aud_b", "aud_c")


def _writable(folder: Path) -> bool:
    probe = folder / "probe"
    try:
        probe.touch()
    except PermissionError:
        return False
    probe.unlink()
    return True


@contextlib.contextmanager
def unwritable(folder: Path) -> Iterator[None]:
    """A folder nobody may write into, root included (immutable when root)."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o555)
    immutable = _writable(folder)
    try:
        if immutable:  # root writes anyway: make the folder immutable
            subprocess.run(["chattr", "+i", str(folder)], check=False)
            if _writable(folder):
                pytest.skip("no way to make a folder unwritable on this machine")
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=False)
        folder.chmod(0o755)


def failed_lines(run: TapRun) -> list[str]:
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    return [line for line in run.error_lines() if "audience(s) failed" not in line]


def nothing_sent_for(run: TapRun, *audience_ids: str) -> None:
    for record in run.messages:
        if record["type"] == "RECORD":
            assert record["record"]["id_or_slug"] not in audience_ids


def partitions(state: dict[str, Any], stream: str) -> dict[str, Any]:
    return {
        p["context"]["id_or_slug"]: p
        for p in state["bookmarks"].get(stream, {}).get("partitions", [])
    }


def test_a_store_that_cannot_be_written_fails_each_audience_in_one_line(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure([audience(a, 5) for a in AUDIENCES])
    store = tmp_path / "store"
    config = emulator.tap_config(*AUDIENCES, snapshot_store=str(store))

    with unwritable(store):
        run = run_tap(tmp_path, config)

    lines = failed_lines(run)
    assert len(lines) == len(AUDIENCES)
    for line, audience_id in zip(lines, AUDIENCES, strict=True):
        assert f"audience '{audience_id}'" in line
        assert f"snapshot_store '{store}'" in line
        assert "failed after 1 try" in line
        assert "PermissionError" in line
    nothing_sent_for(run, *AUDIENCES)
    for stream in ("audience_members", "membership_periods"):
        bookmarks = partitions(run.last_state, stream).values()
        assert all(set(bookmark) == {"context"} for bookmark in bookmarks)


def test_a_store_path_that_is_a_file_fails_in_one_line(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure([audience("aud_a", 5)])
    store = tmp_path / "a-file"
    store.write_text("not a folder")

    run = run_tap(tmp_path, emulator.tap_config("aud_a", snapshot_store=str(store)))

    (line,) = failed_lines(run)
    assert f"snapshot_store '{store}'" in line
    assert "a file stands where a folder must be" in line or "NotADirectory" in line
    nothing_sent_for(run, "aud_a")


def test_an_unreachable_object_store_is_retried_once_per_run(
    emulator: EmulatorAdmin, tmp_path: Path, s3_endpoint: str
) -> None:
    del s3_endpoint  # its AWS variables; the endpoint below is a closed port
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    many = [f"aud_{n}" for n in range(12)]
    emulator.configure([audience(a, 3) for a in many])
    config = emulator.tap_config(
        *many,
        snapshot_store="s3://snapshots/down",
        snapshot_store_options={
            "endpoint_url": f"http://127.0.0.1:{closed}",
            "config_kwargs": {"retries": {"max_attempts": 1}},
        },
    )

    started = time.monotonic()
    run = run_tap(tmp_path, config)
    took = time.monotonic() - started

    lines = failed_lines(run)
    assert len(lines) == len(many)
    assert "failed after 4 tries" in lines[0]
    assert all("not tried again in this run" in line for line in lines)
    retries = [line for line in run.stderr.splitlines() if "; retry " in line]
    assert len(retries) == 3, "one round of retries for the whole run"
    assert took < 60
    assert CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in run.stderr
    nothing_sent_for(run, *many)


def test_a_corrupt_log_is_set_aside_and_its_recovery_works_as_written(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure([audience("aud_a", 10, updated_on=DAY1), audience("aud_b", 4)])
    store = tmp_path / "store"
    config = emulator.tap_config("aud_a", "aud_b", snapshot_store=str(store))
    target = UpsertTarget()
    first = run_tap(tmp_path, config)
    target.apply(first.messages)
    (table,) = store.glob("*/aud_a/*.table")
    data = bytearray(table.read_bytes())
    data[100] ^= 0xFF
    table.write_bytes(bytes(data))
    emulator.patch("aud_a", offset=2, size=10, updated_on=DAY2)

    broken = run_tap(tmp_path, config, state=first.last_state)

    (line,) = failed_lines(broken)
    assert "audience 'aud_a'" in line
    assert table.name in line
    assert "set aside in" in line
    assert "clear this audience's state" in line
    assert "delete its rows in the target" in line
    nothing_sent_for(broken, "aud_a")
    # Exactly the way out the line gives: clear the audience's state, delete its rows.
    state = broken.last_state
    for stream in ("audience_members", "membership_periods"):
        kept = state["bookmarks"][stream]["partitions"]
        state["bookmarks"][stream]["partitions"] = [
            p for p in kept if p["context"]["id_or_slug"] != "aud_a"
        ]
    target.members = {k: v for k, v in target.members.items() if k[0] != "aud_a"}
    target.periods = {k: v for k, v in target.periods.items() if k[0] != "aud_a"}

    recovered = run_tap(tmp_path, config, state=state)

    assert recovered.returncode == 0, recovered.stderr
    target.apply(recovered.messages)
    for audience_id in ("aud_a", "aud_b"):
        target.assert_consistent(audience_id)
        assert target.current(audience_id) == emulator.members(audience_id)
