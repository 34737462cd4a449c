"""One audience's log on a local directory and on a real S3 server (moto).

The log is read and written as the tap does: the store given only a URL
(S3 through s3fs and the standard AWS variables). Races between two runs
are played with two logs on one store: one publishes while the other merges.
"""

from __future__ import annotations

import datetime
import itertools
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import fsspec
import pytest

from tap_mx_audience.audience import AudienceRef
from tap_mx_audience.history.changes import changed_stints
from tap_mx_audience.history.log import START_OVER, AudienceLog, LogError, Served
from tap_mx_audience.history.store import SnapshotStore
from tap_mx_audience.history.table import LogView, TableHeader
from tap_mx_audience.lists.summary import MemberFingerprint

AUDIENCE = AudienceRef("high_value_members", "INST_DEMO")
START = datetime.datetime(2026, 11, 20, 8, tzinfo=datetime.UTC)
YEAR = datetime.timedelta(days=365)
HOSTILE = ["plain", "a\nb", 'q"uote', "back\\slash", "\\2", "é🦀", "x" * 512]


class Runs:
    """Observations of one audience, each by a fresh log as a fresh run makes."""

    def __init__(self, store_url: str, scratch: Path) -> None:
        self.store = SnapshotStore(store_url, tries=2, first_wait_seconds=0.01)
        self._scratch = scratch
        self._count = itertools.count()

    def log(self, retention: datetime.timedelta = YEAR) -> AudienceLog:
        folder = self._scratch / f"run-{next(self._count)}"
        folder.mkdir()
        return AudienceLog(self.store, AUDIENCE, folder, retention)

    def observe(
        self,
        members: Iterable[str],
        at: datetime.datetime,
        *,
        on: datetime.date | None = None,
        since: Callable[[TableHeader], int] = lambda _: 0,
        log: AudienceLog | None = None,
    ) -> LogView:
        ids = [m.encode() for m in members]
        fingerprint = MemberFingerprint()
        fingerprint.add(ids)
        served = Served(fingerprint.digest, on or at.date(), at, lambda: [ids])
        return (log or self.log()).observe(served, since)


def stints(view: LogView, since: int = 0) -> set[tuple[str, str, str | None]]:
    """(member, joined_at, left_at) of every stint changed after `since`."""
    return {
        (
            member.decode(),
            view.observation(stint.opened).instant,
            None if stint.closed is None else view.observation(stint.closed).instant,
        )
        for table, closed in view.buckets(since)
        for stint, run in changed_stints(table, closed, since)
        for member in run.ids()
    }


def open_members(view: LogView) -> set[str]:
    return {m for m, _, left in stints(view) if left is None}


def instant(minutes: int) -> str:
    return (START + datetime.timedelta(minutes=minutes)).isoformat(
        timespec="milliseconds"
    )


def test_stints_open_close_and_reopen(store_url: str, tmp_path: Path) -> None:
    runs = Runs(store_url, tmp_path)
    first = runs.observe(["a", "b", *HOSTILE], START)
    second = runs.observe(["b", "c", *HOSTILE], START + datetime.timedelta(minutes=1))
    third = runs.observe(["a", "b", *HOSTILE], START + datetime.timedelta(minutes=2))

    assert (first.sequence, second.sequence, third.sequence) == (1, 2, 3)
    assert (second.joined, second.left) == (1, 1)
    assert open_members(third) == {"a", "b", *HOSTILE}
    assert stints(third) == {
        ("a", instant(0), instant(1)),
        ("a", instant(2), None),
        ("b", instant(0), None),
        ("c", instant(1), instant(2)),
        *((m, instant(0), None) for m in HOSTILE),
    }
    assert stints(third, since=2) == {
        ("a", instant(2), None),
        ("c", instant(1), instant(2)),
    }


def test_an_unchanged_list_writes_nothing(store_url: str, tmp_path: Path) -> None:
    runs = Runs(store_url, tmp_path)
    runs.observe(["a", "b"], START)

    again = runs.observe(["b", "a"], START + datetime.timedelta(days=1))
    repeated = runs.observe(["a", "b", "b"], START + datetime.timedelta(days=2))

    assert (again.sequence, again.joined, again.left) == (1, 0, 0)
    assert repeated.sequence == 1
    assert again.observation(1).instant == instant(0)


def test_observation_times_never_go_backwards(store_url: str, tmp_path: Path) -> None:
    runs = Runs(store_url, tmp_path)
    runs.observe(["a"], START)

    skewed = runs.observe(["b"], START - datetime.timedelta(hours=3))

    assert skewed.observation(2).at == START + datetime.timedelta(milliseconds=1)


def test_a_watermark_is_served_only_from_its_own_log(
    store_url: str, tmp_path: Path
) -> None:
    runs = Runs(store_url, tmp_path)
    view = runs.observe(["a"], START)
    log = runs.log()
    header = view.header

    assert log.serve_from(header, None, None) == 0
    assert log.serve_from(header, header.log, 1) == 1
    for mark, problem in [
        (("another-log", 1), "is not the log this pipeline's state was delivered from"),
        ((header.log, 2), "ends at table 1, before table 2"),
    ]:
        with pytest.raises(LogError) as refused:
            log.serve_from(header, *mark)
        assert problem in str(refused.value)
        assert str(refused.value).endswith(START_OVER)


def test_retention_drops_old_closes_and_refuses_watermarks_before_them(
    store_url: str, tmp_path: Path
) -> None:
    runs = Runs(store_url, tmp_path)
    week = datetime.timedelta(days=7)
    runs.observe(["a", "b"], START)
    runs.observe(["b"], START + datetime.timedelta(days=1))  # a leaves at 2
    runs.observe(["b", "c"], START + datetime.timedelta(days=2))

    late = runs.observe(["c"], START + datetime.timedelta(days=9), log=runs.log(week))

    assert [segment.closed for segment in late.header.closed] == [4]
    assert late.header.pruned_through == 2
    assert ("a", instant(0), instant(60 * 24)) not in stints(late)
    log = runs.log(week)
    assert log.serve_from(late.header, late.header.log, 2) == 2
    with pytest.raises(
        LogError, match="history_retention_days removed those up to table 2"
    ):
        log.serve_from(late.header, late.header.log, 1)


def test_a_run_that_loses_the_race_merges_on_top_of_the_winner(
    store_url: str, tmp_path: Path
) -> None:
    runs = Runs(store_url, tmp_path)
    runs.observe(["a", "b"], START)
    loser = runs.log()
    create = runs.store.create
    raced: list[LogView] = []

    def create_after_the_winner(path: str, local: Path) -> bool:
        if path.endswith(".table") and not raced:
            runs.store.create = create  # type: ignore[method-assign]
            raced.append(
                runs.observe(["a", "c"], START + datetime.timedelta(minutes=2))
            )
        return create(path, local)

    runs.store.create = create_after_the_winner  # type: ignore[method-assign]
    view = runs.observe(
        ["a", "b", "d"], START + datetime.timedelta(minutes=1), log=loser
    )

    assert raced[0].sequence == 2
    assert view.sequence == 3
    assert view.observation(3).at == START + datetime.timedelta(
        minutes=2, milliseconds=1
    )
    assert stints(view) == {
        ("a", instant(0), None),
        ("b", instant(0), instant(2)),
        ("c", instant(2), "2026-11-20T08:02:00.001+00:00"),
        ("b", "2026-11-20T08:02:00.001+00:00", None),
        ("d", "2026-11-20T08:02:00.001+00:00", None),
    }
    names = runs.store.names(runs.store.folder(AUDIENCE))
    assert sorted(n for n in names if n.endswith(".closed")) == sorted(
        s.name for s in view.header.closed
    )


def test_runs_at_the_same_moment_lose_no_observation(
    store_url: str, tmp_path: Path
) -> None:
    runs = Runs(store_url, tmp_path)
    runs.observe(["base"], START)
    lists = [[f"m{n}", "base"] for n in range(4)]
    views: list[LogView] = []
    start = threading.Barrier(len(lists))

    def run(members: list[str]) -> None:
        log = runs.log()
        start.wait()
        views.append(
            runs.observe(members, START + datetime.timedelta(seconds=1), log=log)
        )

    threads = [threading.Thread(target=run, args=(m,)) for m in lists]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    latest = max(views, key=lambda view: view.sequence)
    assert sorted(view.sequence for view in views) == [2, 3, 4, 5]
    opened = {m for m, _, _ in stints(latest) if m != "base"}
    assert opened == {"m0", "m1", "m2", "m3"}, "every run's observation is in the log"
    assert len(open_members(latest)) == 2


def corrupt(store_url: str, runs: Runs, suffix: str) -> str:
    folder = runs.store.folder(AUDIENCE)
    fs, _ = fsspec.core.url_to_fs(store_url, skip_instance_cache=True)
    name = max(n for n in runs.store.names(folder) if n.endswith(suffix))
    data = bytearray(fs.cat_file(f"{folder}/{name}"))
    data[len(data) // 3] ^= 0xFF
    fs.pipe_file(f"{folder}/{name}", bytes(data))
    return name


@pytest.mark.parametrize("suffix", [".table", ".closed"])
def test_a_corrupt_file_sets_the_log_aside_and_starting_over_works(
    store_url: str, tmp_path: Path, suffix: str
) -> None:
    runs = Runs(store_url, tmp_path)
    runs.observe(["a", "b"], START)
    first = runs.observe(["b"], START + datetime.timedelta(days=1))
    name = corrupt(store_url, runs, suffix)

    with pytest.raises(LogError) as failed:
        runs.observe(["b", "c"], START + datetime.timedelta(days=2))

    message = str(failed.value)
    assert name in message
    assert "set aside in" in message
    assert message.endswith(START_OVER)
    # The way out as written: a cleared state (no watermark) starts a new log.
    fresh = runs.observe(["b", "c"], START + datetime.timedelta(days=3))
    assert fresh.sequence == 1
    assert fresh.header.log != first.header.log
    assert open_members(fresh) == {"b", "c"}


def test_snapshots_of_the_earlier_format_are_set_aside_with_the_way_out(
    store_url: str, tmp_path: Path
) -> None:
    runs = Runs(store_url, tmp_path)
    fs, _ = fsspec.core.url_to_fs(store_url, skip_instance_cache=True)
    folder = runs.store.folder(AUDIENCE)
    old = f"{folder}/000000000001-xxh3sum-2-00000000000000ff.snap"
    fs.makedirs(folder, exist_ok=True)
    fs.pipe_file(old, b"MXSNAP\r\n...")

    with pytest.raises(LogError, match="earlier, unreleased format") as failed:
        runs.observe(["a"], START)

    assert str(failed.value).endswith(START_OVER)
    assert not fs.exists(old)
    assert runs.observe(["a"], START).sequence == 1


def test_only_the_latest_two_tables_stay(store_url: str, tmp_path: Path) -> None:
    runs = Runs(store_url, tmp_path)
    for day in range(5):
        runs.observe([f"m{day}"], START + datetime.timedelta(days=day))

    names = runs.store.names(runs.store.folder(AUDIENCE))

    assert sorted(n for n in names if n.endswith(".table")) == [
        "000000000004.table",
        "000000000005.table",
    ]


def test_local_files_are_owner_only_whatever_the_umask(tmp_path: Path) -> None:
    runs = Runs(str(tmp_path / "store"), tmp_path)
    previous = os.umask(0o022)
    try:
        runs.observe(["a"], START)
        runs.observe(["b"], START + datetime.timedelta(days=1))
    finally:
        os.umask(previous)

    created = list((tmp_path / "store").rglob("*"))
    assert created
    for path in created:
        expected = 0o700 if path.is_dir() else 0o600
        assert path.stat().st_mode & 0o777 == expected, path


def test_a_closed_segment_lost_from_the_store_sets_the_log_aside(
    store_url: str, tmp_path: Path
) -> None:
    runs = Runs(store_url, tmp_path)
    runs.observe(["a", "b"], START)
    runs.observe(["b"], START + datetime.timedelta(days=1))
    folder = runs.store.folder(AUDIENCE)
    (closed,) = [n for n in runs.store.names(folder) if n.endswith(".closed")]
    runs.store.delete(f"{folder}/{closed}")

    with pytest.raises(LogError, match=f"misses {closed}") as failed:
        runs.observe(["b", "c"], START + datetime.timedelta(days=2))

    assert str(failed.value).endswith(START_OVER)
    assert runs.observe(["b", "c"], START + datetime.timedelta(days=3)).sequence == 1


def test_an_unchanged_list_with_every_stream_up_to_date_reads_only_a_header(
    store_url: str, tmp_path: Path
) -> None:
    runs = Runs(store_url, tmp_path)
    runs.observe(["a", "b"], START)
    fetched: list[str] = []
    fetch = runs.store.fetch

    def counted_fetch(path: str, local: Path) -> None:
        fetched.append(path)
        fetch(path, local)

    runs.store.fetch = counted_fetch  # type: ignore[method-assign]
    later = START + datetime.timedelta(days=1)

    up_to_date = runs.observe(["b", "a"], later, since=lambda header: header.sequence)
    behind = runs.observe(["b", "a"], later, since=lambda _: 0)

    assert up_to_date.table is None
    assert up_to_date.sequence == 1
    assert stints(behind) == {("a", instant(0), None), ("b", instant(0), None)}
    assert len(fetched) == (0 if runs.store.local else 1)
