"""No member id is ever logged, at any level: they are a bank's customers.

The real tap runs at DEBUG, in changes mode (the snapshot store and the diff
log the most), with JSON and CSV bodies, and with a body that fails to parse
right after an id.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tests.support.emulatoradmin import EmulatorAdmin, audience
from tests.support.tapdriver import run_tap

DEBUG = {"TAP_MX_AUDIENCE_LOGLEVEL": "DEBUG"}
OLD, NEW = "2026-11-20", "2026-11-25"


def _logged(members: set[str], stderr: str) -> list[str]:
    return [member for member in members if member in stderr]


@pytest.mark.parametrize("response_format", ["json", "csv"])
def test_no_member_id_is_logged_at_debug_in_changes_mode(
    emulator: EmulatorAdmin, tmp_path: Path, response_format: str
) -> None:
    emulator.configure([audience("aud_a", 2000, updated_on=OLD)])
    config = emulator.tap_config(
        "aud_a",
        snapshot_store=str(tmp_path / "snapshots"),
        response_format=response_format,
    )
    members = emulator.members("aud_a")
    first = run_tap(tmp_path, config, env=DEBUG)
    assert first.returncode == 0, first.stderr
    emulator.patch("aud_a", offset=40, size=2100, updated_on=NEW)
    members |= emulator.members("aud_a")
    second = run_tap(tmp_path, config, state=first.last_state, env=DEBUG)
    assert second.returncode == 0, second.stderr
    assert len(second.records("membership_periods")) == 40 + 140  # closed, opened
    for run in (first, second):
        assert "| DEBUG" in run.stderr
        assert _logged(members, run.stderr) == []


def test_a_body_that_fails_to_parse_is_reported_without_its_ids(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    """The JSON parser's message shows the text around the fault: not logged."""
    members = {"customer0000000000000001", "customer0000000000000002"}
    body = (
        b'{"audience_id":"aud_a","institution_id":"INST_TEST",'
        b'"updated_on":"2026-11-20","count":2,'
        b'"list":["customer0000000000000001" "customer0000000000000002"]}'
    )
    emulator.configure([audience("aud_a", 2)])
    emulator.fault(
        "body", id_or_slug="aud_a", body_base64=base64.b64encode(body).decode()
    )
    run = run_tap(tmp_path, emulator.tap_config("aud_a"), env=DEBUG)
    assert run.returncode == 1
    assert "the JSON body is cut short or malformed" in run.error_lines()[-1]
    assert _logged(members, run.stderr) == []
