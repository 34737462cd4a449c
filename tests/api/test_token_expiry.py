"""Tokens that expire or are revoked in the middle of a long sync.

The emulator logs, for every list request, whether its token had expired on
arrival: that log, not the tap's word, shows no request left with a stale one.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from tests.support.emulatoradmin import EmulatorAdmin, audience
from tests.support.livetap import LiveTap, wait_until
from tests.support.tapdriver import TapRun

NAMES = [f"aud_{n}" for n in range(6)]


def _assert_all_delivered(emulator: EmulatorAdmin, run: TapRun) -> None:
    assert run.returncode == 0, run.stderr
    for name in NAMES:
        assert Counter(run.member_ids(name)) == Counter(emulator.members(name))


def test_no_list_request_carries_an_expired_token(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    """3-second tokens, six slow bodies two at a time: about four seconds of sync."""
    emulator.configure([audience(n, 30) for n in NAMES], token_lifetime_seconds=3)
    for name in NAMES:
        emulator.fault("slow_body", id_or_slug=name, delay_seconds=0.4, pieces=4)
    with LiveTap(tmp_path, emulator.tap_config(*NAMES, parallel_downloads=2)) as tap:
        run = tap.finish()
    _assert_all_delivered(emulator, run)
    log = emulator.requests()
    lists = [r for r in log if r["endpoint"] == "list"]
    assert [(r["token_expired"], r["status"]) for r in lists] == [(False, 200)] * 6
    assert sum(r["endpoint"] == "token" for r in log) >= 2


def test_revoked_token_leads_to_one_reauthentication_and_retry(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    """Revoked during the first download: the next request re-authenticates once."""
    emulator.configure([audience(n, 30) for n in NAMES])
    emulator.fault("slow_body", id_or_slug=NAMES[0], delay_seconds=1, pieces=3)
    with LiveTap(tmp_path, emulator.tap_config(*NAMES, parallel_downloads=1)) as tap:
        wait_until(lambda: any(r["fault"] for r in emulator.requests()))
        emulator.revoke()
        run = tap.finish()
    _assert_all_delivered(emulator, run)
    log = [(r["endpoint"], r["id_or_slug"], r["status"]) for r in emulator.requests()]
    assert log == [
        ("token", None, 200),
        ("list", NAMES[0], 200),
        ("list", NAMES[1], 401),
        ("token", None, 200),
        *(("list", name, 200) for name in NAMES[1:]),
    ]
