"""SIGKILL at several points, then a restart from the last STATE the tap emitted.

Nothing is lost: the two runs together hold every member, audiences committed
before the kill are not sent again, and the interrupted one is sent in full.
"""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.emulatoradmin import EmulatorAdmin, audience
from tests.support.livetap import LiveTap, Message, committed, wait_until
from tests.support.tapdriver import run_tap

SIZES = {"aud_a": 50, "aud_b": 30_000}  # aud_b's records overflow the stdout pipe
NEW_DATE = "2026-11-25"


@dataclass(frozen=True)
class KillPoint:
    """Where to kill: which download to slow down to hold the tap there, and when."""

    slow_audience: str | None
    reached: Callable[[LiveTap, EmulatorAdmin], object]
    sent_before_kill: dict[str, Callable[[int], bool]]


def _slow_list_requested(tap: LiveTap, emulator: EmulatorAdmin) -> None:
    del tap
    wait_until(lambda: any(r["fault"] == "slow_body" for r in emulator.requests()))


def _member_of(id_or_slug: str) -> Callable[[Message], bool]:
    return lambda m: (
        m["type"] == "RECORD" and m["record"].get("id_or_slug") == (id_or_slug)
    )


def _state_committing(id_or_slug: str) -> Callable[[Message], bool]:
    return lambda m: (
        m["type"] == "STATE" and committed(m["value"], id_or_slug) == (NEW_DATE)
    )


KILL_POINTS = {
    "before-first-record": KillPoint(
        slow_audience="aud_a",
        reached=_slow_list_requested,
        sent_before_kill={"aud_a": lambda n: n == 0, "aud_b": lambda n: n == 0},
    ),
    "mid-list": KillPoint(
        slow_audience=None,
        reached=lambda tap, _: tap.wait_for(_member_of("aud_b")),
        sent_before_kill={
            "aud_a": lambda n: n == SIZES["aud_a"],
            "aud_b": lambda n: 0 < n < SIZES["aud_b"],
        },
    ),
    "between-audiences": KillPoint(
        slow_audience="aud_b",
        reached=lambda tap, _: tap.wait_for(_state_committing("aud_a")),
        sent_before_kill={
            "aud_a": lambda n: n == SIZES["aud_a"],
            "aud_b": lambda n: n == 0,
        },
    ),
}


@pytest.mark.parametrize("point", KILL_POINTS.values(), ids=KILL_POINTS.keys())
def test_sigkill_then_resume_loses_nothing(
    emulator: EmulatorAdmin, tmp_path: Path, point: KillPoint
) -> None:
    emulator.configure([audience(name, size) for name, size in SIZES.items()])
    config = emulator.tap_config(*SIZES, parallel_downloads=1)
    first = run_tap(tmp_path, config)
    assert first.returncode == 0, first.stderr
    for name in SIZES:  # members leave and join: every audience changes
        emulator.patch(name, offset=7, updated_on=NEW_DATE)
    if point.slow_audience:
        emulator.fault(
            "slow_body", id_or_slug=point.slow_audience, delay_seconds=2, pieces=3
        )

    with LiveTap(tmp_path, config, first.last_state) as tap:
        point.reached(tap, emulator)
        killed = tap.stop(signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    for name, expected in point.sent_before_kill.items():
        assert expected(len(killed.member_ids(name))), name

    resume_state: dict[str, Any] = (
        killed.last_state if killed.states else first.last_state
    )
    resumed = run_tap(tmp_path, config, state=resume_state)
    assert resumed.returncode == 0, resumed.stderr
    for name in SIZES:
        members = emulator.members(name)
        assert set(killed.member_ids(name)) | set(resumed.member_ids(name)) == members
        if committed(resume_state, name) == NEW_DATE:
            assert resumed.member_ids(name) == []
        else:
            assert Counter(resumed.member_ids(name)) == Counter(members)
        assert committed(resumed.last_state, name) == NEW_DATE
