"""Incremental semantics: which audiences send their members, and the bookmarks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.emulatoradmin import INSTITUTION, EmulatorAdmin, audience
from tests.support.tapdriver import TapRun, partition_state, run_tap


def _first_run(
    emulator: EmulatorAdmin, tmp_path: Path, *audiences: dict[str, Any]
) -> tuple[dict[str, Any], TapRun]:
    emulator.configure(list(audiences))
    config = emulator.tap_config(*(a["audience_id"] for a in audiences))
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    return config, run


def test_unchanged_audience_sends_no_members_but_its_summary(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    config, first = _first_run(emulator, tmp_path, audience("aud_a", 50))
    second = run_tap(tmp_path, config, state=first.last_state)
    assert second.returncode == 0, second.stderr
    assert second.member_ids() == []
    assert [r["audience_id"] for r in second.records("audiences")] == ["aud_a"]
    assert partition_state(second.last_state, "aud_a", INSTITUTION) == partition_state(
        first.last_state, "aud_a", INSTITUTION
    )


def test_same_day_change_sends_the_whole_new_list(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    config, first = _first_run(emulator, tmp_path, audience("aud_a", 50))
    emulator.patch("aud_a", offset=5, size=52)  # 5 leave, 7 join, same updated_on
    second = run_tap(tmp_path, config, state=first.last_state)
    assert second.returncode == 0, second.stderr
    assert sorted(second.member_ids()) == sorted(emulator.members("aud_a"))
    assert {r["updated_on"] for r in second.records("audience_members")} == {
        "2026-11-20"
    }
    before = partition_state(first.last_state, "aud_a", INSTITUTION)
    after = partition_state(second.last_state, "aud_a", INSTITUTION)
    assert after["fingerprint"] != before["fingerprint"]


def test_reordered_list_is_the_same_audience(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    config, first = _first_run(
        emulator, tmp_path, audience("aud_a", 20, key_order=["count", "list"])
    )
    emulator.patch(
        "aud_a",
        key_order=["list", "updated_on", "institution_id", "count", "audience_id"],
    )
    csv_config = {**config, "response_format": "csv"}
    second = run_tap(tmp_path, csv_config, state=first.last_state)
    assert second.returncode == 0, second.stderr
    assert second.member_ids() == []


def test_newer_audience_sends_full_list_with_new_date(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    config, first = _first_run(emulator, tmp_path, audience("aud_a", 30))
    emulator.patch("aud_a", offset=10, updated_on="2026-11-25")
    second = run_tap(tmp_path, config, state=first.last_state)
    records = second.records("audience_members")
    assert sorted(r["member_id"] for r in records) == sorted(emulator.members("aud_a"))
    assert {r["updated_on"] for r in records} == {"2026-11-25"}
    committed = partition_state(second.last_state, "aud_a", INSTITUTION)
    assert committed["replication_key_value"] == "2026-11-25"


def test_older_audience_with_other_members_is_sent_and_bookmark_keeps_its_date(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    """The served list is the truth, whatever its date; the date never goes back."""
    config, first = _first_run(
        emulator, tmp_path, audience("aud_a", 30, updated_on="2026-11-25")
    )
    emulator.patch("aud_a", offset=3, updated_on="2026-11-01")
    second = run_tap(tmp_path, config, state=first.last_state)
    assert second.returncode == 0, second.stderr
    assert set(second.member_ids()) == emulator.members("aud_a")
    assert {r["updated_on"] for r in second.records("audience_members")} == {
        "2026-11-01"
    }
    assert "is older than the bookmark's 2026-11-25" in second.stderr
    committed = partition_state(second.last_state, "aud_a", INSTITUTION)
    assert committed["replication_key_value"] == "2026-11-25"
    assert committed["fingerprint"] == second.records("audiences")[0]["fingerprint"]


def test_older_audience_with_the_same_members_sends_nothing(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    config, first = _first_run(
        emulator, tmp_path, audience("aud_a", 30, updated_on="2026-11-25")
    )
    emulator.patch("aud_a", updated_on="2026-11-01")
    second = run_tap(tmp_path, config, state=first.last_state)
    assert second.returncode == 0, second.stderr
    assert second.member_ids() == []
    committed = partition_state(second.last_state, "aud_a", INSTITUTION)
    assert committed["replication_key_value"] == "2026-11-25"


def test_start_date_skips_audiences_updated_before_it(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure(
        [
            audience("aud_old", 10, updated_on="2026-01-15"),
            audience("aud_new", 10, updated_on="2026-11-20"),
        ]
    )
    config = emulator.tap_config("aud_old", "aud_new", start_date="2026-06-01")
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    assert run.member_ids("aud_old") == []
    assert len(run.member_ids("aud_new")) == 10


def test_interrupted_audience_is_sent_again_in_full(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    """A state cut mid-audience holds only progress markers for it: resend it all."""
    config, first = _first_run(emulator, tmp_path, audience("aud_a", 40))
    cut_short = first.last_state
    partition = partition_state(cut_short, "aud_a", INSTITUTION)
    partition["progress_markers"] = {
        "replication_key": "updated_on",
        "replication_key_value": "2026-11-21",
    }
    del partition["replication_key_value"], partition["fingerprint"]
    emulator.patch("aud_a", updated_on="2026-11-21")
    second = run_tap(tmp_path, config, state=cut_short)
    assert sorted(second.member_ids()) == sorted(emulator.members("aud_a"))
    committed = partition_state(second.last_state, "aud_a", INSTITUTION)
    assert "progress_markers" not in committed
    assert committed["replication_key_value"] == "2026-11-21"


def test_failed_audience_keeps_its_bookmark_and_others_are_delivered(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    config, first = _first_run(
        emulator, tmp_path, audience("aud_bad", 20), audience("aud_ok", 20)
    )
    emulator.patch("aud_bad", count_delta=1, offset=2, updated_on="2026-11-22")
    emulator.patch("aud_ok", offset=2, updated_on="2026-11-22")
    second = run_tap(tmp_path, config, state=first.last_state)
    assert second.returncode != 0
    assert second.member_ids("aud_bad") == []
    assert sorted(second.member_ids("aud_ok")) == sorted(emulator.members("aud_ok"))
    state = second.last_state
    assert partition_state(state, "aud_ok", INSTITUTION)["replication_key_value"] == (
        "2026-11-22"
    )
    assert partition_state(state, "aud_bad", INSTITUTION)["replication_key_value"] == (
        "2026-11-20"
    )
    last_line = second.stderr.strip().splitlines()[-1]
    assert "1 audience(s) failed" in last_line
    assert f"audience 'aud_bad' (institution '{INSTITUTION}')" in last_line
    assert "count is 21 but its list holds 20 members" in last_line
