"""SIGTERM and SIGINT: the latest state goes out and the exit status says "cut short".

singer-sdk 0.54 exits 0 on SIGTERM, which tells an orchestrator that a run
stopped half-way succeeded.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.emulatoradmin import EmulatorAdmin, audience
from tests.support.livetap import LiveTap, committed, is_member_record, wait_until
from tests.support.tapdriver import TapRun, run_tap

SIGNALS = pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"]
)
OLD_DATE, NEW_DATE = "2026-11-20", "2026-11-25"
STOP_WITHIN_SECONDS = 10
BIG = 200_000


def _synced_then_changed(
    emulator: EmulatorAdmin, tmp_path: Path
) -> tuple[dict[str, Any], TapRun]:
    """Sync two audiences, change both, and slow down aud_b's next download."""
    emulator.configure([audience("aud_a", 50), audience("aud_b", 50)])
    config = emulator.tap_config("aud_a", "aud_b", parallel_downloads=1)
    first = run_tap(tmp_path, config)
    assert first.returncode == 0, first.stderr
    for name in ("aud_a", "aud_b"):
        emulator.patch(name, offset=3, updated_on=NEW_DATE)
    emulator.fault("slow_body", id_or_slug="aud_b", delay_seconds=2, pieces=3)
    return config, first


def _assert_stopped_by(run: TapRun, signum: signal.Signals) -> None:
    assert run.returncode == 128 + signum
    assert f"Stopped by signal {signum:d}" in run.stderr


@SIGNALS
def test_signal_before_any_state_still_emits_one(
    emulator: EmulatorAdmin, tmp_path: Path, signum: signal.Signals
) -> None:
    """A first run stopped mid-download had emitted no STATE: the handler writes it."""
    emulator.configure([audience("aud_a", 50)])
    emulator.fault("slow_body", id_or_slug="aud_a", delay_seconds=2, pieces=3)
    with LiveTap(tmp_path, emulator.tap_config("aud_a")) as tap:
        wait_until(lambda: any(r["fault"] for r in emulator.requests()))
        stopped = tap.stop(signum)
    _assert_stopped_by(stopped, signum)
    assert stopped.messages[-1]["type"] == "STATE"
    assert len(stopped.states) == 1
    assert committed(stopped.last_state, "aud_a") is None


@SIGNALS
def test_signal_between_audiences_emits_what_was_delivered(
    emulator: EmulatorAdmin, tmp_path: Path, signum: signal.Signals
) -> None:
    config, first = _synced_then_changed(emulator, tmp_path)
    with LiveTap(tmp_path, config, first.last_state) as tap:
        tap.wait_for(
            lambda m: (
                m["type"] == "STATE" and committed(m["value"], "aud_a") == NEW_DATE
            )
        )
        stopped = tap.stop(signum)
    _assert_stopped_by(stopped, signum)
    assert committed(stopped.last_state, "aud_a") == NEW_DATE
    assert committed(stopped.last_state, "aud_b") == OLD_DATE
    assert stopped.member_ids("aud_b") == []


@contextmanager
def _blocked_mid_write(emulator: EmulatorAdmin, tmp_path: Path) -> Iterator[LiveTap]:
    """A tap sending a large audience, blocked writing to a pipe nobody reads."""
    emulator.configure([audience("aud_big", BIG)])
    with LiveTap(tmp_path, emulator.tap_config("aud_big")) as tap:
        tap.wait_for(is_member_record)
        time.sleep(0.5)  # nobody reads: the pipe fills and the tap blocks mid-write
        yield tap


@SIGNALS
def test_signal_mid_write_never_cuts_a_line(
    emulator: EmulatorAdmin, tmp_path: Path, signum: signal.Signals
) -> None:
    """Stopped while blocked writing records to a full pipe: every line stays whole."""
    with _blocked_mid_write(emulator, tmp_path) as tap:
        stopped = tap.stop(signum)
    _assert_stopped_by(stopped, signum)
    assert stopped.messages[-1]["type"] == "STATE"
    assert committed(stopped.last_state, "aud_big") is None
    assert 0 < len(stopped.member_ids()) <= BIG


def test_sigterm_with_a_stdout_nobody_reads_ends_within_seconds(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    """A target that stopped reading cannot hold the tap up: it leaves, and says so."""
    with _blocked_mid_write(emulator, tmp_path) as tap:
        elapsed = tap.stop_unread(signal.SIGTERM)
        stderr = tap.stderr()
    assert elapsed < STOP_WITHIN_SECONDS
    assert tap.returncode == 128 + signal.SIGTERM
    assert "Traceback" not in stderr
    (warning,) = [line for line in stderr.splitlines() if "final STATE" in line]
    assert "| WARNING" in warning
    assert "stdout did not take the output within 5 s" in warning
