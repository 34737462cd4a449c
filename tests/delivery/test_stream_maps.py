"""Stream maps that would silently send nothing are refused.

singer-sdk never syncs the children of a record its stream maps drop, so
`stream_maps: {"audiences": null}` used to send no member at all, exit 0.
Deselecting `audiences` in the catalog is the way to keep only the members.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.emulatoradmin import EmulatorAdmin, audience
from tests.support.tapdriver import run_tap


@pytest.mark.parametrize(
    "stream_maps",
    [{"audiences": None}, {"__else__": None, "audience_members": {}}],
    ids=["audiences-null", "else-null"],
)
def test_stream_map_dropping_audiences_is_refused(
    emulator: EmulatorAdmin, tmp_path: Path, stream_maps: dict[str, Any]
) -> None:
    emulator.configure([audience("aud_a", 5)])
    run = run_tap(tmp_path, emulator.tap_config("aud_a", stream_maps=stream_maps))
    assert run.returncode == 1
    assert run.messages == []
    (error,) = run.error_lines()
    assert error.endswith(
        "| Setting 'stream_maps' drops stream 'audiences', and singer-sdk then "
        "drops its child stream 'audience_members' too: deselect 'audiences' "
        "in the catalog instead"
    )


def test_stream_map_dropping_every_stream_is_allowed(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    """Nothing is wanted, nothing is sent: no surprise to refuse."""
    emulator.configure([audience("aud_a", 5)])
    stream_maps = dict.fromkeys(["audiences", "audience_members", "membership_periods"])
    run = run_tap(tmp_path, emulator.tap_config("aud_a", stream_maps=stream_maps))
    assert run.returncode == 0, run.stderr
    assert run.member_ids() == []
