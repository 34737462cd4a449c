"""API faults: transient ones are retried losing nothing, lasting ones end clearly.

`Counter` equality (not set equality) shows that a body cut short was thrown
away and fetched again, never parsed or appended to as if it were complete.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.support.emulatoradmin import INSTITUTION, EmulatorAdmin
from tests.support.faultcases import GIVE_UP, SIZES, TRANSIENT, FaultCase
from tests.support.livetap import committed
from tests.support.tapdriver import run_tap

UPDATED_ON = "2026-11-20"


@pytest.mark.parametrize("case", TRANSIENT.values(), ids=TRANSIENT.keys())
def test_transient_fault_is_retried_and_nothing_is_lost(
    emulator: EmulatorAdmin, tmp_path: Path, case: FaultCase
) -> None:
    run = case.run(emulator, tmp_path)
    assert run.returncode == 0, run.stderr
    for name in SIZES:
        assert Counter(run.member_ids(name)) == Counter(emulator.members(name))
        assert committed(run.last_state, name) == UPDATED_ON
    if case.min_wait:
        refused, retried = (
            r for r in emulator.requests() if r["id_or_slug"] == "aud_a"
        )
        assert (refused["status"], retried["status"]) == (429, 200)
        assert retried["time"] - refused["time"] >= case.min_wait


@pytest.mark.parametrize("case", GIVE_UP.values(), ids=GIVE_UP.keys())
def test_lasting_fault_gives_up_after_bounded_tries_in_one_line(
    emulator: EmulatorAdmin, tmp_path: Path, case: FaultCase
) -> None:
    run = case.run(emulator, tmp_path)
    assert run.returncode == 1
    assert run.member_ids("aud_a") == []
    assert committed(run.last_state, "aud_a") is None
    assert Counter(run.member_ids("aud_b")) == Counter(emulator.members("aud_b"))
    assert committed(run.last_state, "aud_b") == UPDATED_ON
    tries = [r for r in emulator.requests() if r["id_or_slug"] == "aud_a"]
    assert len(tries) == case.tries
    last_line = run.stderr.splitlines()[-1]
    assert "| ERROR" in last_line
    assert f"audience 'aud_a' (institution '{INSTITUTION}')" in last_line
    assert str(case.gives_up) in last_line
    assert "Traceback" not in run.stderr


def test_connection_refused_is_retried_then_reported(tmp_path: Path) -> None:
    config = EmulatorAdmin("http://127.0.0.1:9").tap_config("aud_a", max_retries=1)
    run = run_tap(tmp_path, config)
    assert run.returncode == 1
    last_line = run.stderr.splitlines()[-1]
    assert "could not reach the token endpoint" in last_line
    assert "(gave up after 2 tries)" in last_line
    assert "Traceback" not in run.stderr


def test_unreachable_api_url_is_a_clear_error(tmp_path: Path) -> None:
    config = EmulatorAdmin("http://127.0.0.1:9").tap_config("aud_a", max_retries=0)
    run = run_tap(tmp_path, config)
    assert run.returncode == 1
    [error] = run.error_lines()
    assert "could not reach the token endpoint http://127.0.0.1:9/api/token" in error
    assert "(gave up after 1 try)" in error
    assert "Traceback" not in run.stderr
