"""Changes mode (`snapshot_store`): only who joined or left, exact after any run.

Every test runs the real tap against the emulator, with the store on a local
directory or on a real S3 server (moto) reached through s3fs.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.support.emulatoradmin import INSTITUTION, EmulatorAdmin, audience
from tests.support.s3server import BUCKET
from tests.support.tapdriver import TapRun, partition_state, run_tap

OLD, NEW = "2026-11-20", "2026-11-25"
MARKER = "leakymarker"


@pytest.fixture(params=["directory", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty snapshot store of each kind."""
    if request.param == "directory":
        return str(tmp_path / "snapshots")
    request.getfixturevalue("s3_endpoint")
    return f"s3://{BUCKET}/{uuid.uuid4().hex}"


def _changes(run: TapRun) -> dict[str, str | None]:
    """Member id -> left_on, of the member records sent."""
    return {r["member_id"]: r["left_on"] for r in run.records("audience_members")}


def _events(run: TapRun) -> set[tuple[str, str, str]]:
    return {
        (r["member_id"], r["change"], r["updated_on"])
        for r in run.records("membership_changes")
    }


def _first(
    emulator: EmulatorAdmin, tmp_path: Path, store: str, size: int = 40
) -> tuple[dict[str, Any], TapRun]:
    emulator.configure([audience("aud_a", size, updated_on=OLD)])
    config = emulator.tap_config("aud_a", snapshot_store=store)
    first = run_tap(tmp_path, config)
    assert first.returncode == 0, first.stderr
    return config, first


def test_first_run_sends_every_member_as_joined_then_only_the_changes(
    emulator: EmulatorAdmin, tmp_path: Path, store: str
) -> None:
    config, first = _first(emulator, tmp_path, store)
    before = emulator.members("aud_a")
    assert _changes(first) == dict.fromkeys(before)
    assert _events(first) == {(m, "joined", OLD) for m in before}
    assert partition_state(first.last_state, "aud_a", INSTITUTION)["snapshot"]

    emulator.patch("aud_a", offset=4, size=43, updated_on=NEW)
    after = emulator.members("aud_a")
    second = run_tap(tmp_path, config, state=first.last_state)
    assert second.returncode == 0, second.stderr
    assert _changes(second) == {
        **dict.fromkeys(after - before),
        **dict.fromkeys(before - after, NEW),
    }
    left = [r for r in second.records("audience_members") if r["left_on"]]
    assert {r["_sdc_deleted_at"] for r in left} == {f"{NEW}T00:00:00+00:00"}
    assert _events(second) == {(m, "joined", NEW) for m in after - before} | {
        (m, "left", NEW) for m in before - after
    }

    third = run_tap(tmp_path, config, state=second.last_state)
    assert third.returncode == 0, third.stderr
    assert third.records("audience_members") == []
    assert third.records("membership_changes") == []


def test_a_lost_state_is_covered_by_the_unconfirmed_snapshot(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    """Run 2 may be in the target though its STATE was lost: run 3 undoes it."""
    config, first = _first(emulator, tmp_path, str(tmp_path / "snapshots"))
    one = emulator.members("aud_a")
    emulator.patch("aud_a", offset=5, updated_on=NEW)
    two = emulator.members("aud_a")
    lost = run_tap(tmp_path, config, state=first.last_state)
    assert lost.returncode == 0, lost.stderr
    emulator.patch("aud_a", offset=0, updated_on=NEW)  # back to list one, same day
    third = run_tap(tmp_path, config, state=first.last_state)
    assert third.returncode == 0, third.stderr
    # The list is list one again, but run 2 may have marked 5 members left and
    # added 5 joiners: both are put right.
    assert _changes(third) == {
        **dict.fromkeys(one - two),
        **dict.fromkeys(two - one, NEW),
    }


def test_a_state_from_before_snapshots_records_one_and_sends_nothing(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure([audience("aud_a", 30, updated_on=OLD)])
    full = run_tap(tmp_path, emulator.tap_config("aud_a"))
    assert full.returncode == 0, full.stderr
    old_state = full.last_state
    assert "snapshot" not in partition_state(old_state, "aud_a", INSTITUTION)

    config = emulator.tap_config("aud_a", snapshot_store=str(tmp_path / "s"))
    upgraded = run_tap(tmp_path, config, state=old_state)
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.records("audience_members") == []
    assert "keeping its first snapshot" in upgraded.stderr
    assert partition_state(upgraded.last_state, "aud_a", INSTITUTION)["snapshot"]


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_a_lost_or_damaged_snapshot_fails_the_audience_and_sends_nothing(
    emulator: EmulatorAdmin, tmp_path: Path, damage: str
) -> None:
    snapshots = tmp_path / "snapshots"
    config, first = _first(emulator, tmp_path, str(snapshots))
    (snapshot,) = snapshots.rglob("*.snap")
    if damage == "missing":
        snapshot.unlink()
    else:
        data = bytearray(snapshot.read_bytes())
        data[len(data) // 2] ^= 0xFF
        snapshot.write_bytes(bytes(data))
    emulator.patch("aud_a", offset=3, updated_on=NEW)
    run = run_tap(tmp_path, config, state=first.last_state)
    assert run.returncode == 1
    assert run.records("audience_members") == []
    assert run.records("audiences") == []
    (error,) = run.error_lines()[-1:]
    assert "audience 'aud_a' (institution 'INST_TEST')" in error
    assert "snapshot" in error
    assert error.count("audience 'aud_a'") == 1
    assert "clear this audience's state" in error
    assert partition_state(run.last_state, "aud_a", INSTITUTION) == partition_state(
        first.last_state, "aud_a", INSTITUTION
    )


def test_membership_changes_without_audience_members_is_refused(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure([audience("aud_a", 3)])
    config = emulator.tap_config("aud_a", snapshot_store=str(tmp_path / "s"))
    catalog = run_tap(tmp_path, config, args=("--discover",)).stdout
    entries = json.loads(catalog)
    for entry in entries["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = (
                    entry["tap_stream_id"] != "audience_members"
                )
    run = run_tap(tmp_path, config, catalog=entries)
    assert run.returncode == 1
    assert run.stdout == ""
    assert (
        "Stream 'membership_changes' needs stream 'audience_members' selected"
        in run.stderr
    )


MALFORMED_STORES = {
    "one-slash": (f"s3:/{MARKER}/x", "must be a directory, a file:// URL or"),
    "no-slash": (f"s3:{MARKER}", "must be a directory, a file:// URL or"),
    "ftp": (f"ftp://{MARKER}/x", "must be a directory, a file:// URL or"),
    "http": (f"http://{MARKER}.example/x", "must be a directory, a file:// URL or"),
    "memory": (f"memory://{MARKER}", "must be a directory, a file:// URL or"),
    "bad-ipv6": (f"s3://[{MARKER}/x", "must be a directory, a file:// URL or"),
    "no-bucket": (f"s3:///{MARKER}", "needs a bucket or container after s3://"),
    "file-other-host": (f"file://{MARKER}/x", "is a file:// URL of another host"),
    "file-query": (f"file:///tmp/x?{MARKER}", "is a file:// URL with a query string"),
    "file-no-path": ("file://localhost", "must be file:///path to a directory"),
}


@pytest.mark.parametrize(
    ("value", "message"), MALFORMED_STORES.values(), ids=MALFORMED_STORES.keys()
)
def test_a_malformed_store_url_stops_the_run_before_anything(
    emulator: EmulatorAdmin, tmp_path: Path, value: str, message: str
) -> None:
    """Nothing on stdout, no request, no directory: not even `./s3:`."""
    emulator.configure([audience("aud_a", 3)])
    config = emulator.tap_config("aud_a", snapshot_store=value)
    run = run_tap(tmp_path, config, cwd=tmp_path)
    assert f"Setting 'snapshot_store' {message}" in run.only_error()
    assert MARKER not in run.stderr
    assert emulator.requests() == []
    assert [path.name for path in tmp_path.iterdir()] == ["config.json"]


def test_a_file_url_store_is_its_decoded_directory(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure([audience("aud_a", 3)])
    store = tmp_path / "with pct"
    config = emulator.tap_config("aud_a", snapshot_store=store.as_uri())
    assert config["snapshot_store"].endswith("/with%20pct")
    run = run_tap(tmp_path, config, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert len(list(store.rglob("*.snap"))) == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "config.json",
        "with pct",
    ]
