"""What a run writes besides records: STATE growth, SCHEMAs, metrics, progress, summary.

STATE used to be the whole state after every audience (quadratic in the number
of audiences); it is now written at a bounded rate, so its bytes per run grow
linearly.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tap_mx_audience.output.statewriter import (
    STATE_BYTES_PER_SECOND,
    ThrottledStateWriter,
)
from tap_mx_audience.output.writer import BufferedSingerWriter
from tests.support.emulatoradmin import EmulatorAdmin, audience
from tests.support.tapdriver import TapRun, run_tap


def _state_bytes(run: TapRun) -> int:
    return sum(
        len(line)
        for line in run.stdout.splitlines()
        if line.startswith('{"type":"STATE"')
    )


def _many(emulator: EmulatorAdmin, count: int) -> list[str]:
    names = [f"aud_{number:04d}" for number in range(count)]
    emulator.configure([audience(name, 20) for name in names])
    return names


@pytest.mark.parametrize("rerun", [False, True], ids=["first-run", "unchanged-rerun"])
def test_state_bytes_grow_linearly_with_audiences(
    emulator: EmulatorAdmin, tmp_path: Path, *, rerun: bool
) -> None:
    written = {}
    for count in (50, 200):
        names = _many(emulator, count)
        config = emulator.tap_config(*names, parallel_downloads=8)
        run = run_tap(tmp_path, config)
        assert run.returncode == 0, run.stderr
        if rerun:
            run = run_tap(tmp_path, config, state=run.last_state)
            assert run.returncode == 0, run.stderr
            assert run.member_ids() == []
        assert len(run.last_state["bookmarks"]["audience_members"]["partitions"]) == (
            count
        )
        written[count] = _state_bytes(run)
    # Four times the audiences: about four times the bytes, never sixteen.
    assert written[200] < 5 * written[50], written


def test_one_schema_per_stream_and_one_record_count_per_audience(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    names = _many(emulator, 5)
    run = run_tap(tmp_path, emulator.tap_config(*names))
    assert run.returncode == 0, run.stderr
    schemas = [m["stream"] for m in run.messages if m["type"] == "SCHEMA"]
    assert sorted(schemas) == ["audience_members", "audiences"]  # full mode
    counts = [
        json.loads(line.split("METRIC: ", 1)[1])
        for line in run.stderr.splitlines()
        if "METRIC: " in line and '"record_count"' in line
    ]
    members = [
        metric for metric in counts if metric["tags"]["stream"] == "audience_members"
    ]
    assert sorted(m["tags"]["context"]["id_or_slug"] for m in members) == names
    assert {m["value"] for m in members} == {20}


def test_slow_download_logs_progress_and_the_run_ends_with_a_summary(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure([audience("aud_slow", 50_000), audience("aud_fast", 10)])
    emulator.fault("slow_body", id_or_slug="aud_slow", delay_seconds=2.2, pieces=4)
    run = run_tap(tmp_path, emulator.tap_config("aud_slow", "aud_fast"))
    assert run.returncode == 0, run.stderr
    progress = [line for line in run.stderr.splitlines() if "downloading," in line]
    assert progress, run.stderr
    assert re.search(
        r"audience 'aud_slow' .*: downloading, [\d.]+ MB so far at [\d.]+ MB/s",
        progress[0],
    )
    summary = [line for line in run.stderr.splitlines() if "Run summary:" in line]
    assert len(summary) == 1
    assert re.search(
        r"Run summary: 2 list\(s\) fetched \([\d.]+ MB\), 0 audience\(s\) failed; "
        r"members changed in 2 audience\(s\), unchanged in 0; "
        r"records sent: 2 audiences, 50010 audience_members; [\d.]+ s",
        summary[0],
    )


def test_a_large_state_is_written_at_a_bounded_byte_rate(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    """A 1 MB state offered every 0.1 s for a minute goes out about every 10 s."""
    now = [0.0]
    writer = ThrottledStateWriter(BufferedSingerWriter(), clock=lambda: now[0])
    state: Any = {"bookmarks": {"s": {"partitions": [{"x": "y" * 1_000_000}]}}}
    for _ in range(600):
        writer.write_state(state)
        writer.idle()
        now[0] += 0.1
    writer.flush()
    lines = capsysbinary.readouterr().out.splitlines()
    assert 6 <= len(lines) <= 8, len(lines)
    assert sum(map(len, lines)) <= (60 + 10) * STATE_BYTES_PER_SECOND * 1.1
