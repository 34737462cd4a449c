"""What each selection of streams sends, and what the run summary says of it.

Through the real CLI, in full mode: syncing only `audiences` must not move
`list_fingerprint` away from the members last delivered (the README's
full-mode query would then find no current member), and the summary says
what was fetched and what was sent, whatever was selected or failed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.support.emulatoradmin import EmulatorAdmin, audience
from tests.support.tapdriver import TapRun, run_tap
from tests.support.upsert import UpsertTarget


def selecting(tmp_path: Path, config: dict[str, Any], *streams: str) -> dict[str, Any]:
    """The discovered catalog with only `streams` selected."""
    catalog: dict[str, Any] = json.loads(
        run_tap(tmp_path, config, args=("--discover",)).stdout
    )
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] in streams
    return catalog


def summary(run: TapRun) -> str:
    (line,) = [line for line in run.stderr.splitlines() if "Run summary:" in line]
    return line.split("Run summary: ", 1)[1]


def full_mode_current(
    target: UpsertTarget, audiences: dict[str, dict[str, Any]]
) -> set[str]:
    """The README's full-mode query: member rows with their audience's fingerprint."""
    return {
        row["member_id"]
        for row in target.members.values()
        if row["list_fingerprint"] == audiences[row["id_or_slug"]]["list_fingerprint"]
    }


def test_syncing_only_audiences_keeps_the_fingerprint_of_the_members_delivered(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure([audience("aud_a", 80)])
    config = emulator.tap_config("aud_a")
    target = UpsertTarget()
    audiences: dict[str, dict[str, Any]] = {}
    first = run_tap(tmp_path, config)
    target.apply(first.messages)
    audiences.update({r["id_or_slug"]: r for r in first.records("audiences")})
    emulator.patch("aud_a", offset=5, size=80, updated_on="2026-11-21")

    only = run_tap(
        tmp_path,
        config,
        state=first.last_state,
        catalog=selecting(tmp_path, config, "audiences"),
    )

    assert only.returncode == 0, only.stderr
    audiences.update({r["id_or_slug"]: r for r in only.records("audiences")})
    (row,) = only.records("audiences")
    assert row["list_fingerprint"] == first.records("audiences")[0]["list_fingerprint"]
    assert row["fingerprint"] != row["list_fingerprint"]
    assert len(full_mode_current(target, audiences)) == 80
    assert re.fullmatch(
        r"1 list\(s\) fetched \([\d.]+ MB\), 0 audience\(s\) failed; members changed "
        r"in 0 audience\(s\), unchanged in 1; records sent: 1 audiences; [\d.]+ s",
        summary(only),
    )


def test_the_summary_counts_what_was_fetched_when_an_audience_fails(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure([audience("aud_a", 20_000), audience("aud_b", 3)])
    emulator.fault("status", id_or_slug="aud_b", status=403)

    run = run_tap(tmp_path, emulator.tap_config("aud_a", "aud_b"))

    assert run.returncode == 1
    fetched = re.match(
        r"1 list\(s\) fetched \(([\d.]+) MB\), 1 audience\(s\) failed", summary(run)
    )
    assert fetched is not None, summary(run)
    assert float(fetched[1]) > 0.5
    assert "records sent: 1 audiences, 20000 audience_members" in summary(run)
