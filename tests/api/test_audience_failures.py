"""Some audiences fail (404, 403, count mismatch) while the others are delivered."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from tests.support.emulatoradmin import INSTITUTION, EmulatorAdmin, audience
from tests.support.livetap import committed
from tests.support.tapdriver import run_tap

GOOD = ("aud_first", "aud_middle", "aud_last")
FAILING = {
    "aud_unknown": "HTTP 404",
    "aud_forbidden": "HTTP 403",
    "aud_miscounted": "the body's count is 13 but its list holds 12 members",
}


def test_failed_audiences_are_named_and_the_others_delivered(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure(
        [
            *(audience(name, 12) for name in GOOD),
            audience("aud_forbidden", 12, forbidden=True),
            audience("aud_miscounted", 12, count_delta=1),
        ]
    )
    order = ("aud_first", "aud_unknown", "aud_middle", "aud_forbidden")
    run = run_tap(tmp_path, emulator.tap_config(*order, "aud_miscounted", "aud_last"))
    assert run.returncode == 1
    for name in GOOD:
        assert Counter(run.member_ids(name)) == Counter(emulator.members(name))
        assert committed(run.last_state, name) == "2026-11-20"
    for name in FAILING:
        assert run.member_ids(name) == []
        assert committed(run.last_state, name) is None
    last_line = run.stderr.splitlines()[-1]
    assert "| ERROR" in last_line
    assert "3 audience(s) failed" in last_line
    for name, reason in FAILING.items():
        assert f"audience '{name}' (institution '{INSTITUTION}')" in last_line
        assert reason in last_line
    assert "Traceback" not in run.stderr


def test_one_audience_configured_by_slug_and_by_id_fails_the_second(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure([audience("aud_vip", 12, slug="vip"), audience("aud_b", 3)])
    run = run_tap(tmp_path, emulator.tap_config("vip", "aud_b", "aud_vip"))
    assert run.returncode == 1
    assert sorted(run.member_ids("vip")) == sorted(emulator.members("aud_vip"))
    assert run.member_ids("aud_vip") == []
    assert len(run.member_ids("aud_b")) == 3
    assert (
        "audience 'aud_vip' (institution 'INST_TEST'): is the same audience as "
        "audience 'vip' (institution 'INST_TEST') (the API reports audience_id "
        "'aud_vip' for both); configure it once"
    ) in run.error_lines()[-1]
