"""An audience configured under another key: said once, never a silent doubling.

Switching an audience's `id_or_slug` from its slug to its id keys its rows
anew; the old rows stay in the target. Wherever the body reports the
audience id, the tap names both keys and the rows to delete, once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.emulatoradmin import INSTITUTION, EmulatorAdmin, audience
from tests.support.tapdriver import run_tap


@pytest.mark.parametrize("mode", ["full", "changes"])
def test_switching_from_slug_to_id_names_the_old_rows_once(
    emulator: EmulatorAdmin, tmp_path: Path, mode: str
) -> None:
    emulator.configure([audience("aud_c", 75, slug="card_churn_risk")])
    store = {"snapshot_store": str(tmp_path / "s")} if mode == "changes" else {}
    by_slug = emulator.tap_config("card_churn_risk", **store)
    first = run_tap(tmp_path, by_slug)
    assert first.returncode == 0, first.stderr

    by_id = emulator.tap_config("aud_c", **store)
    switched = run_tap(tmp_path, by_id, state=first.last_state)
    again = run_tap(tmp_path, by_id, state=switched.last_state)

    assert switched.returncode == 0, switched.stderr
    (warning,) = [line for line in switched.stderr.splitlines() if "| WARNING" in line]
    assert "audience 'aud_c'" in warning
    assert "configured before as 'card_churn_risk'" in warning
    assert "id_or_slug = 'card_churn_risk'" in warning
    assert f"institution_public_id = '{INSTITUTION}'" in warning
    assert len(switched.member_ids("aud_c")) == 75
    keys = {
        p["context"]["id_or_slug"]
        for stream in switched.last_state["bookmarks"].values()
        for p in stream.get("partitions", [])
    }
    assert keys == {"aud_c"}
    assert "configured before" not in again.stderr
