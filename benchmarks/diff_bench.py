"""Changes mode, tap alone: bucket a list, snapshot it, diff it against yesterday's.

    .venv/bin/python benchmarks/diff_bench.py [--sizes 1000000,5000000] [--runs 1]

For each size N, one child process per run (so its peak RSS is its own):
day 1 is N ids (32 hex characters, like uuids), bucketed and written as the
confirmed snapshot; day 2 drops the first 1% and adds 1% new ids. Timed on
day 2: bucketing the served list (read from a local file in 16,384-id
batches, as `ListBody.member_batches()` hands them out), writing its
snapshot, and reading the confirmed snapshot while diffing against it. The
diff must find exactly the 1% joined and 1% left. Peak RSS is the child's
`ru_maxrss`; the snapshot size is the day-2 file on disk.
"""

from __future__ import annotations

import argparse
import datetime
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import xxhash

from tap_mx_audience.audience import AudienceRef
from tap_mx_audience.history.buckets import MemberBuckets
from tap_mx_audience.history.diff import diff
from tap_mx_audience.history.store import SnapshotStore

AUDIENCE = AudienceRef("aud_bench", "INST_BENCH")
BATCH = 16_384
DAY_1 = datetime.date(2026, 11, 20)
DAY_2 = datetime.date(2026, 11, 21)
PHASES = ("bucket", "snapshot", "diff")


def write_ids(path: Path, first: int, stop: int) -> None:
    """Ids number `first` to `stop - 1`, one a line: 32 hex characters each."""
    with path.open("wb") as file:
        for start in range(first, stop, BATCH):
            numbers = range(start, min(start + BATCH, stop))
            file.write(
                "".join(
                    xxhash.xxh3_128_hexdigest(n.to_bytes(8, "little")) + "\n"
                    for n in numbers
                ).encode()
            )


def id_batches(path: Path) -> Iterator[list[str]]:
    """A list file read back in batches, as the tap's readers hand them out."""
    with path.open("rb") as file:
        while lines := file.readlines(BATCH * 33):
            yield b"".join(lines).decode("ascii").split()


def child(size: int, scratch: Path) -> dict[str, Any]:
    """One measured run, in this process: day 1 setup, day 2 timed."""
    churn = size // 100
    day_1, day_2 = scratch / "day1.txt", scratch / "day2.txt"
    write_ids(day_1, 0, size)
    write_ids(day_2, churn, size + churn)
    store = SnapshotStore(str(scratch / "store"))
    with MemberBuckets(id_batches(day_1), str(scratch)) as served:
        confirmed = store.write(AUDIENCE, served, served.fingerprint, DAY_1)

    marks = [(time.perf_counter(), time.process_time())]
    with MemberBuckets(id_batches(day_2), str(scratch)) as served:
        marks.append((time.perf_counter(), time.process_time()))
        written = store.write(AUDIENCE, served, served.fingerprint, DAY_2)
        marks.append((time.perf_counter(), time.process_time()))
        joined = left = 0
        with store.open(AUDIENCE, confirmed) as history:
            for batch in diff(served, DAY_2, [history]):
                joined += len(batch.joined)
                left += len(batch.left)
        marks.append((time.perf_counter(), time.process_time()))
    if joined != churn or left != churn:
        msg = f"expected {churn} joined and left, got {joined} and {left}"
        raise AssertionError(msg)
    snapshot = Path(store.folder(AUDIENCE)) / written.name
    return {
        **{
            f"{phase}_{clock}": marks[step + 1][index] - marks[step][index]
            for step, phase in enumerate(PHASES)
            for index, clock in enumerate(("s", "cpu_s"))
        },
        "total_s": marks[-1][0] - marks[0][0],
        "total_cpu_s": marks[-1][1] - marks[0][1],
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "snapshot_mib": snapshot.stat().st_size / (1 << 20),
        "ids_mib": day_2.stat().st_size / (1 << 20),
        "joined": joined,
        "left": left,
    }


def measure(size: int, runs: int) -> dict[str, Any]:
    """Medians over runs, each in a fresh child process."""
    results = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="mx-diff-bench-") as scratch:
            output = subprocess.run(
                [sys.executable, __file__, "--child", str(size), scratch],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        results.append(json.loads(output))
    return {key: statistics.median(run[key] for run in results) for key in results[0]}


def main() -> None:
    """Run every size and print a markdown table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000000,5000000")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        size, scratch = arguments.child
        print(json.dumps(child(int(size), Path(scratch))))
        return
    print(
        "| members | bucket | write snapshot | read + diff | day 2 total "
        "| peak RSS | snapshot on disk (ids as text) |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for size in map(int, arguments.sizes.split(",")):
        row = measure(size, arguments.runs)
        times = " | ".join(
            f"{row[f'{phase}_cpu_s']:.2f} s ({row[f'{phase}_s']:.2f} s)"
            for phase in (*PHASES, "total")
        )
        print(
            f"| {size:,} | {times} | {row['peak_rss_mib']:.0f} MiB "
            f"| {row['snapshot_mib']:.1f} MiB ({row['ids_mib']:.1f} MiB) |",
            flush=True,
        )


if __name__ == "__main__":
    main()
