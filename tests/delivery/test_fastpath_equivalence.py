"""The fast path writes the RECORD messages the SDK path writes, and steps aside.

Each run is the real CLI against the emulator. The tap logs which path each
audience's members took; the fast run is compared with runs that must take
the SDK path (flattening, stream maps, a deselected property, BATCH), whose
records are what the fast run's records become under that setting.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support.emulatoradmin import EmulatorAdmin, audience
from tests.support.tapdriver import TapRun, run_tap

# Ids the byte-level readers leave to ijson / csv, and the writer must escape.
AWKWARD_IDS = [
    'quo"te,d',
    "ünïcödé",
    "back\\slash",
    "tab\there",
    "line\nbreak",
    "]bracket[",
    " spaced ",
]
FAST = "the fast path"
SDK = "the SDK record pipeline"
DROPPED = "institution_id"


def _configure(emulator: EmulatorAdmin) -> None:
    emulator.configure(
        [
            audience("aud_plain", 3000, updated_on="2026-11-21"),
            audience("aud_awkward", 40, extra_members=AWKWARD_IDS),
        ]
    )


def _messages(run: TapRun) -> list[dict[str, Any]]:
    """audience_members RECORD messages without their time_extracted."""
    assert run.returncode == 0, run.stderr
    records = [
        m
        for m in run.messages
        if m["type"] == "RECORD" and m["stream"] == "audience_members"
    ]
    assert all("time_extracted" in m for m in records)
    return [{k: v for k, v in m.items() if k != "time_extracted"} for m in records]


def _paths(run: TapRun) -> list[str]:
    """The path each audience's members took, from the tap's log."""
    return [
        line.split(": members go through ", 1)[1]
        for line in run.stderr.splitlines()
        if "members go through" in line
    ]


def _batch_records(run: TapRun) -> list[dict[str, Any]]:
    """audience_members records from the files BATCH messages point to."""
    assert run.returncode == 0, run.stderr
    records = []
    for message in run.messages:
        if message["type"] == "BATCH" and message["stream"] == "audience_members":
            for uri in message["manifest"]:
                with gzip.open(urlsplit(uri).path, "rt") as lines:
                    records += [json.loads(line) for line in lines]
    return records


def _catalog_without(tmp_path: Path, config: dict[str, Any]) -> dict[str, Any]:
    """The discovered catalog, every stream selected, one member property not."""
    discovered = run_tap(tmp_path, config, args=("--discover",))
    catalog: dict[str, Any] = json.loads(discovered.stdout)
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if not entry["breadcrumb"]:
                entry["metadata"]["selected"] = True
            elif (
                stream["tap_stream_id"] == "audience_members"
                and entry["breadcrumb"][-1] == DROPPED
            ):
                entry["metadata"]["selected"] = False
    return catalog


@pytest.mark.parametrize("response_format", ["json", "csv"])
def test_fast_path_records_equal_the_sdk_paths(
    emulator: EmulatorAdmin, tmp_path: Path, response_format: str
) -> None:
    _configure(emulator)
    config = emulator.tap_config(
        "aud_plain", "aud_awkward", response_format=response_format
    )
    fast = run_tap(tmp_path, config)
    flattened = run_tap(
        tmp_path, {**config, "flattening_enabled": True, "flattening_max_depth": 3}
    )
    mapped = run_tap(
        tmp_path,
        {
            **config,
            "stream_maps": {"audience_members": {"member_upper": "member_id.upper()"}},
        },
    )
    deselected = run_tap(tmp_path, config, catalog=_catalog_without(tmp_path, config))
    batch_root = tmp_path / "batches"
    batch_root.mkdir()
    batched = run_tap(
        tmp_path,
        {
            **config,
            "batch_config": {
                "encoding": {"format": "jsonl", "compression": "gzip"},
                "storage": {"root": batch_root.as_uri()},
            },
        },
    )
    expected = _messages(fast)
    assert _paths(fast) == [FAST, FAST]
    assert {m["record"]["member_id"] for m in expected} >= set(AWKWARD_IDS)
    assert len(expected) == 3000 + 40 + len(AWKWARD_IDS)
    assert _paths(flattened) == [f"{SDK} (flattening)"] * 2
    assert _messages(flattened) == expected
    assert _paths(mapped) == [f"{SDK} (stream maps)"] * 2
    assert _messages(mapped) == [
        {
            **m,
            "record": {**m["record"], "member_upper": m["record"]["member_id"].upper()},
        }
        for m in expected
    ]
    assert _paths(deselected) == [f"{SDK} (deselected properties: {DROPPED})"] * 2
    assert _messages(deselected) == [
        {**m, "record": {k: v for k, v in m["record"].items() if k != DROPPED}}
        for m in expected
    ]
    assert _paths(batched) == [f"{SDK} (BATCH messages)"] * 2
    assert _batch_records(batched) == [m["record"] for m in expected]


def test_smoke_50k_members_json_and_csv_agree(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure([audience("aud_big", 50_000)])
    runs = {
        fmt: run_tap(tmp_path, emulator.tap_config("aud_big", response_format=fmt))
        for fmt in ("json", "csv")
    }
    members = emulator.members("aud_big")
    for run in runs.values():
        ids = run.member_ids()
        assert _paths(run) == [FAST]
        assert len(ids) == len(members) == 50_000
        assert set(ids) == members
    json_state, csv_state = (run.last_state for run in runs.values())
    # Only JSON reports the audience id, which the bookmark keeps (to tell the
    # audience under another key); everything else agrees.
    (json_bookmark,) = json_state["bookmarks"]["audience_members"]["partitions"]
    assert json_bookmark.pop("audience_id") == "aud_big"
    assert json_state == csv_state
