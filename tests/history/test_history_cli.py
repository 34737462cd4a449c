"""Changes mode through the real CLI: members and their stints, exact after any run.

Each test runs the tap against the emulator with the log on a local
directory or a real S3 server (moto), and applies what it sends to an upsert
target in memory (tests/support/upsert.py), whose properties are the
README's promises.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.emulatoradmin import INSTITUTION, EmulatorAdmin, audience
from tests.support.tapdriver import TapRun, run_tap, tap_command
from tests.support.upsert import UpsertTarget

DAY1, DAY2, DAY3 = "2026-11-20", "2026-11-21", "2026-11-22"


class Pipeline:
    """One Meltano-like pipeline: its own state, its own target, one shared store."""

    def __init__(self, tmp_path: Path, config: dict[str, Any], name: str = "p") -> None:
        self.folder = tmp_path / name
        self.folder.mkdir()
        self.config = config
        self.state: dict[str, Any] | None = None
        self.target = UpsertTarget()

    def run(self, *, keep_state: bool = True, **options: Any) -> TapRun:  # noqa: ANN401
        done = run_tap(self.folder, self.config, state=self.state, **options)
        assert done.returncode == 0, done.stderr[-3000:]
        self.target.apply(done.messages)
        if keep_state and done.states:
            self.state = done.last_state
        return done

    def exact(self, emulator: EmulatorAdmin, *audience_ids: str) -> None:
        for audience_id in audience_ids:
            self.target.assert_consistent(audience_id)
            assert self.target.current(audience_id) == emulator.members(audience_id)


def sent(run: TapRun, stream: str) -> int:
    return len(run.records(stream))


def test_each_day_sends_only_what_changed_and_stints_read_back_exactly(
    emulator: EmulatorAdmin, tmp_path: Path, store_url: str
) -> None:
    emulator.configure([audience("aud_a", 40, updated_on=DAY1)])
    pipeline = Pipeline(
        tmp_path, emulator.tap_config("aud_a", snapshot_store=store_url)
    )
    day1 = pipeline.run()
    first_list = emulator.members("aud_a")
    emulator.patch("aud_a", offset=5, size=43, updated_on=DAY2)
    day2 = pipeline.run()
    day3 = pipeline.run()

    streams = ("audience_members", "membership_periods")
    assert [sent(day1, stream) for stream in streams] == [40, 40]
    # 5 left, 8 joined: one member row and one stint row each.
    assert [sent(day2, stream) for stream in streams] == [13, 13]
    assert [sent(day3, stream) for stream in streams] == [0, 0]
    pipeline.exact(emulator, "aud_a")
    (day1_fetch,) = (r["fetched_at"] for r in day1.records("audiences"))
    (day2_fetch,) = (r["fetched_at"] for r in day2.records("audiences"))
    assert pipeline.target.members_at("aud_a", day1_fetch) == first_list
    assert pipeline.target.members_at("aud_a", day2_fetch) == emulator.members("aud_a")
    left = [r for r in day2.records("audience_members") if r["left_on"] is not None]
    assert {r["left_on"] for r in left} == {DAY2}
    assert all(r["_sdc_deleted_at"] == r["left_at"] for r in left)


def test_a_full_refresh_resends_the_same_stints_and_joins_nobody_again(
    emulator: EmulatorAdmin, tmp_path: Path, store_url: str
) -> None:
    emulator.configure([audience("aud_a", 30, updated_on=DAY1)])
    pipeline = Pipeline(
        tmp_path, emulator.tap_config("aud_a", snapshot_store=store_url)
    )
    pipeline.run()
    emulator.patch("aud_a", offset=4, size=30, updated_on=DAY2)
    pipeline.run()
    before = dict(pipeline.target.periods)

    pipeline.state = None  # meltano run --full-refresh, target kept
    refresh = pipeline.run()

    assert sent(refresh, "membership_periods") == 34  # 30 open, 4 closed
    assert sent(refresh, "audience_members") == 34
    assert pipeline.target.periods == before, "every stint keeps its key"
    stayed = emulator.members("aud_a") & {m for (_, _, m, _) in before}
    assert all(len(pipeline.target.stints("aud_a")[m]) == 1 for m in stayed)
    pipeline.exact(emulator, "aud_a")


def test_two_pipelines_on_one_store_never_break_each_other(
    emulator: EmulatorAdmin, tmp_path: Path, store_url: str
) -> None:
    emulator.configure([audience("aud_a", 20, updated_on=DAY1)])
    config = emulator.tap_config("aud_a", snapshot_store=store_url)
    postgres, jsonl = Pipeline(tmp_path, config, "pg"), Pipeline(tmp_path, config, "js")
    postgres.run()
    jsonl.run()
    for day, offset in ((DAY2, 3), (DAY3, 7)):
        emulator.patch("aud_a", offset=offset, size=20, updated_on=day)
        postgres.run()
    late = jsonl.run()

    # jsonl missed two tables: it gets what both changed, nothing more.
    assert sent(late, "membership_periods") == 7 + 7
    postgres.exact(emulator, "aud_a")
    jsonl.exact(emulator, "aud_a")
    assert jsonl.target.periods == postgres.target.periods


def test_a_leave_and_return_on_one_date_are_two_stints_in_order(
    emulator: EmulatorAdmin, tmp_path: Path, store_url: str
) -> None:
    emulator.configure([audience("aud_a", 10, updated_on=DAY2)])
    pipeline = Pipeline(
        tmp_path, emulator.tap_config("aud_a", snapshot_store=store_url)
    )
    pipeline.run()
    emulator.patch("aud_a", offset=2, size=8)  # two leave, same updated_on
    pipeline.run()
    emulator.patch("aud_a", offset=0, size=10, updated_on=DAY1)  # back, date earlier
    back = pipeline.run()

    returned = {r["member_id"] for r in back.records("audience_members")}
    assert len(returned) == 2
    for member in returned:
        (first, second) = pipeline.target.stints("aud_a")[member]
        assert first[1] is not None
        assert first[1] <= second[0]
        assert second[1] is None
    pipeline.exact(emulator, "aud_a")


def test_a_run_whose_state_was_lost_is_sent_again_under_the_same_keys(
    emulator: EmulatorAdmin, tmp_path: Path, store_url: str
) -> None:
    emulator.configure([audience("aud_a", 15, updated_on=DAY1)])
    pipeline = Pipeline(
        tmp_path, emulator.tap_config("aud_a", snapshot_store=store_url)
    )
    pipeline.run()
    emulator.patch("aud_a", offset=3, size=15, updated_on=DAY2)
    lost = pipeline.run(keep_state=False)  # applied, but its STATE never saved
    after = dict(pipeline.target.periods)

    again = pipeline.run()

    assert again.records("membership_periods") == lost.records("membership_periods")
    assert pipeline.target.periods == after
    pipeline.exact(emulator, "aud_a")


@pytest.mark.parametrize("stream", ["audience_members", "membership_periods"])
def test_either_member_stream_syncs_alone(
    emulator: EmulatorAdmin, tmp_path: Path, stream: str
) -> None:
    emulator.configure([audience("aud_a", 12, updated_on=DAY1)])
    config = emulator.tap_config("aud_a", snapshot_store=str(tmp_path / "s"))
    catalog = json.loads(run_tap(tmp_path, config, args=("--discover",)).stdout)
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = entry["tap_stream_id"] == stream
    pipeline = Pipeline(tmp_path, config)
    first = pipeline.run(catalog=catalog)
    emulator.patch("aud_a", offset=2, size=12, updated_on=DAY2)
    second = pipeline.run(catalog=catalog)

    streams = {m["stream"] for m in first.messages + second.messages if "stream" in m}
    assert streams == {stream}
    assert (len(first.records(stream)), len(second.records(stream))) == (12, 4)
    bookmarks = pipeline.state["bookmarks"]  # type: ignore[index]
    assert {name for name, value in bookmarks.items() if value.get("partitions")} == {
        stream
    }


def test_runs_started_at_the_same_moment_both_deliver_and_lose_nothing(
    emulator: EmulatorAdmin, tmp_path: Path, store_url: str
) -> None:
    emulator.configure([audience(f"aud_{n}", 2000, updated_on=DAY1) for n in range(3)])
    config = emulator.tap_config(
        *(f"aud_{n}" for n in range(3)), snapshot_store=store_url
    )
    pipelines = [Pipeline(tmp_path, config, name) for name in ("one", "two")]
    processes = [
        subprocess.Popen(
            tap_command(p.folder, p.config),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for p in pipelines
    ]
    for pipeline, process in zip(pipelines, processes, strict=True):
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err.decode()[-3000:]
        pipeline.target.apply(json.loads(line) for line in out.splitlines())

    for pipeline in pipelines:
        pipeline.exact(emulator, "aud_0", "aud_1", "aud_2")
    assert pipelines[0].target.periods == pipelines[1].target.periods


def test_an_audience_before_start_date_is_neither_recorded_nor_sent(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure([audience("aud_a", 5, updated_on=DAY1)])
    config = emulator.tap_config(
        "aud_a", snapshot_store=str(tmp_path / "s"), start_date=DAY2
    )

    run = Pipeline(tmp_path, config).run()

    assert sent(run, "audience_members") == sent(run, "membership_periods") == 0
    assert not (tmp_path / "s").exists()


def test_an_audience_of_another_institution_has_its_own_log(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure([audience("aud_a", 5)])
    config = emulator.tap_config("aud_a", snapshot_store=str(tmp_path / "s"))

    Pipeline(tmp_path, config).run()

    assert [p.name for p in (tmp_path / "s").iterdir()] == [INSTITUTION]


AWKWARD_IDS = ['quo"te,d', "ünïcödé", "back\\slash", "tab\there", "line\nbreak"]


def _records(run: TapRun, stream: str) -> list[str]:
    """A stream's records as canonical JSON, sorted: comparable across runs."""
    return sorted(json.dumps(r, sort_keys=True) for r in run.records(stream))


def test_the_fast_path_sends_what_the_sdk_path_sends_and_nothing_warns(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure(
        [audience("aud_a", 300, updated_on=DAY1, extra_members=AWKWARD_IDS)]
    )
    runs: dict[str, list[TapRun]] = {}
    for path, extra in (
        ("fast", {}),
        ("sdk", {"flattening_enabled": True, "flattening_max_depth": 1}),
    ):
        emulator.patch("aud_a", offset=0, size=300, updated_on=DAY1)
        config = emulator.tap_config(
            "aud_a", snapshot_store=str(tmp_path / path), **extra
        )
        pipeline = Pipeline(tmp_path, config, path)
        day1 = pipeline.run()
        emulator.patch("aud_a", offset=7, size=300, updated_on=DAY2)
        runs[path] = [day1, pipeline.run()]
        pipeline.exact(emulator, "aud_a")

    assert "records go through the SDK (flattening)" in runs["sdk"][1].stderr
    assert "records go through the SDK" not in runs["fast"][1].stderr
    for fast, sdk in zip(runs["fast"], runs["sdk"], strict=True):
        for stream in ("audience_members", "membership_periods"):
            assert len(_records(fast, stream)) == len(_records(sdk, stream)) > 0
            assert [_without_times(r) for r in _records(fast, stream)] == [
                _without_times(r) for r in _records(sdk, stream)
            ]
    for run in runs["sdk"] + runs["fast"]:
        assert "assumed to be unsorted" not in run.stderr


def _without_times(record: str) -> dict[str, Any]:
    """A record without the instants that differ between two pipelines' logs."""
    fields: dict[str, Any] = json.loads(record)
    return {
        k: v
        for k, v in fields.items()
        if k not in {"joined_at", "left_at", "_sdc_deleted_at"}
    }
