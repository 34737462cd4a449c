"""A sync delivers every member exactly once, in JSON and CSV, with both streams."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.support.emulatoradmin import INSTITUTION, EmulatorAdmin, audience
from tests.support.tapdriver import partition_state, run_tap


@pytest.mark.parametrize("response_format", ["json", "csv"])
def test_every_member_exactly_once_with_keys_and_date(
    emulator: EmulatorAdmin, tmp_path: Path, response_format: str
) -> None:
    emulator.configure(
        [
            audience(
                "aud_big",
                2500,
                slug="big-spenders",
                updated_on="2026-11-21",
                csv_extra_columns=True,
            ),
            audience("aud_small", 7, updated_on="2026-11-19", csv_extra_columns=True),
        ]
    )
    config = emulator.tap_config(
        "big-spenders", "aud_small", response_format=response_format
    )
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    big = run.member_ids("big-spenders")
    assert Counter(big) == Counter(emulator.members("aud_big"))
    assert sorted(run.member_ids("aud_small")) == sorted(emulator.members("aud_small"))
    first = run.records("audience_members")[0]
    assert first == {
        "audience_id": "aud_big",
        "id_or_slug": "big-spenders",
        "institution_id": INSTITUTION,
        "institution_public_id": INSTITUTION,
        "member_id": first["member_id"],
        "updated_on": "2026-11-21",
        "list_fingerprint": run.records("audiences")[0]["fingerprint"],
        "joined_at": None,
        "joined_on": None,
        "left_at": None,
        "left_on": None,
        "_sdc_deleted_at": None,
    }


def test_csv_without_audience_columns_falls_back_to_config_and_last_modified(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure(
        [audience("aud_csv", 5, csv_header=None, updated_on="2026-10-05")]
    )
    run = run_tap(tmp_path, emulator.tap_config("aud_csv", response_format="csv"))
    assert run.returncode == 0, run.stderr
    records = run.records("audience_members")
    assert sorted(r["member_id"] for r in records) == sorted(
        emulator.members("aud_csv")
    )
    assert {
        (r["audience_id"], r["institution_id"], r["updated_on"]) for r in records
    } == {("aud_csv", INSTITUTION, "2026-10-05")}


def test_audiences_stream_summarises_each_audience(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure([audience("aud_a", 40), audience("aud_b", 3)])
    run = run_tap(tmp_path, emulator.tap_config("aud_a", "aud_b"))
    summaries = {r["audience_id"]: r for r in run.records("audiences")}
    assert summaries.keys() == {"aud_a", "aud_b"}
    assert summaries["aud_a"]["count"] == 40
    assert summaries["aud_a"]["member_count"] == 40
    assert summaries["aud_b"]["updated_on"] == "2026-11-20"


def test_each_list_is_downloaded_once_per_sync(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure([audience("aud_a", 40), audience("aud_b", 3)])
    run = run_tap(tmp_path, emulator.tap_config("aud_a", "aud_b"))
    assert run.returncode == 0, run.stderr
    list_requests = [r for r in emulator.requests() if r.get("endpoint") == "list"]
    assert Counter(r["id_or_slug"] for r in list_requests) == {"aud_a": 1, "aud_b": 1}


def test_state_is_per_partition_with_date_and_fingerprint(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure([audience("aud_a", 12, updated_on="2026-11-02")])
    run = run_tap(tmp_path, emulator.tap_config("aud_a"))
    partition = partition_state(run.last_state, "aud_a", INSTITUTION)
    assert partition["replication_key"] == "updated_on"
    assert partition["replication_key_value"] == "2026-11-02"
    assert partition["fingerprint"].startswith("xxh3sum:12:")
    assert "progress_markers" not in partition


def test_each_bookmark_is_emitted_after_the_last_record_it_covers(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure([audience("aud_a", 30), audience("aud_b", 30)])
    run = run_tap(tmp_path, emulator.tap_config("aud_a", "aud_b"))
    for id_or_slug in ("aud_a", "aud_b"):
        last_record = max(
            index
            for index, message in enumerate(run.messages)
            if message["type"] == "RECORD"
            and message["stream"] == "audience_members"
            and message["record"]["id_or_slug"] == id_or_slug
        )
        first_commit = next(
            index
            for index, message in enumerate(run.messages)
            if message["type"] == "STATE" and _committed(message["value"], id_or_slug)
        )
        assert first_commit > last_record


def _committed(state: dict[str, Any], id_or_slug: str) -> bool:
    partitions = state.get("bookmarks", {}).get("audience_members", {})
    return any(
        p["context"]["id_or_slug"] == id_or_slug and "replication_key_value" in p
        for p in partitions.get("partitions", [])
    )


def test_one_slug_at_two_institutions_is_two_audiences(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    other = "INST_OTHER"
    emulator.configure(
        [
            audience("aud_here", 5, slug="vip"),
            audience("aud_there", 8, slug="vip", institution_id=other),
        ]
    )
    config = emulator.tap_config()
    config["audiences"] = [
        {"id_or_slug": "vip", "institution_public_id": institution}
        for institution in (INSTITUTION, other)
    ]
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    delivered = {
        institution: sorted(
            r["member_id"]
            for r in run.records("audience_members")
            if r["institution_public_id"] == institution
        )
        for institution in (INSTITUTION, other)
    }
    assert delivered == {
        INSTITUTION: sorted(emulator.members("aud_here")),
        other: sorted(emulator.members("aud_there")),
    }
    assert sorted(run.member_ids("vip")) == sorted(
        emulator.members("aud_here") | emulator.members("aud_there")
    )
    for institution in (INSTITUTION, other):
        partition = partition_state(run.last_state, "vip", institution)
        assert partition["replication_key_value"] == "2026-11-20"
