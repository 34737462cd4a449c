"""Changes mode against full mode, tap alone, side by side in one run.

    .venv/bin/python benchmarks/history_bench.py [--sizes 1000000,5000000] [--runs 3]

The project's emulator (a separate process) serves one audience of N
members. Day 1 is a first delivery (no state; in changes mode an empty
store, so both member streams send N rows each); day 2 serves the list with
1% of its members gone and 1% new ones (emulator `PATCH offset`), against
the day-1 state (and, in changes mode, a fresh copy of the day-1 store).
Each timed run is its own `tap-mx-audience` process with stdout to
/dev/null, under GNU time (CPU, peak RSS); the two modes alternate within
each round. Medians of `--runs`; the ratios are changes over full.
Results: stdout and benchmarks/results-history.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.audiences_bench import GNU_TIME, cost  # noqa: E402
from benchmarks.run import TAP, audience, emulator, tap_config  # noqa: E402

AUDIENCE_ID = "aud_bench"
DAY_2 = "2026-11-21"
STATE_LINE = b'{"type":"STATE"'


def timed(config: str, state: Path | None) -> dict[str, float]:
    """One tap process, stdout to /dev/null: wall and CPU seconds, peak RSS MiB."""
    command = [*GNU_TIME, TAP, "--config", config]
    if state is not None:
        command += ["--state", str(state)]
    started = time.perf_counter()
    completed = subprocess.run(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        msg = f"tap failed: {completed.stderr[-3000:]!r}"
        raise RuntimeError(msg)
    cpu, rss = cost(completed.stderr)
    return {"wall_s": round(wall, 3), "cpu_s": round(cpu, 2), "rss_mib": round(rss, 1)}


def final_state(config: str, into: Path) -> None:
    """Run the tap once, untimed, and keep the last STATE it wrote."""
    out = subprocess.run(
        [TAP, "--config", config], capture_output=True, check=True
    ).stdout
    (last,) = [line for line in out.splitlines() if line.startswith(STATE_LINE)][-1:]
    into.write_text(json.dumps(json.loads(last)["value"]))


def measure(size: int, runs: int, work: Path) -> dict[str, Any]:
    """Both modes at one size: day 1 and day 2, `runs` rounds."""
    samples: dict[str, list[dict[str, float]]] = {}
    with emulator([audience(AUDIENCE_ID, size)], 0.0) as url:
        store, day1_store = work / "store", work / "store-day1"
        full = tap_config(work, url, [AUDIENCE_ID], "json")
        changes = tap_config(
            work, url, [AUDIENCE_ID], "json", snapshot_store=str(store)
        )
        full_state, changes_state = (
            work / "full-state.json",
            work / "changes-state.json",
        )
        final_state(full, full_state)
        final_state(changes, changes_state)
        shutil.copytree(store, day1_store)
        requests.patch(
            f"{url}/_emulator/audiences/{AUDIENCE_ID}",
            json={"offset": size // 100, "size": size, "updated_on": DAY_2},
            timeout=60,
        ).raise_for_status()
        for _ in range(runs):
            for case, config, state, start in (
                ("full day 1", full, None, None),
                ("changes day 1", changes, None, None),
                ("full day 2", full, full_state, None),
                ("changes day 2", changes, changes_state, day1_store),
            ):
                shutil.rmtree(store, ignore_errors=True)
                if start is not None:
                    shutil.copytree(start, store)
                samples.setdefault(case, []).append(timed(config, state))
    medians = {
        case: {key: statistics.median(s[key] for s in runs_of) for key in runs_of[0]}
        for case, runs_of in samples.items()
    }
    ratios = {
        day: {
            key: round(medians[f"changes {day}"][key] / medians[f"full {day}"][key], 2)
            for key in ("wall_s", "cpu_s")
        }
        for day in ("day 1", "day 2")
    }
    return {"size": size, "medians": medians, "ratios": ratios, "samples": samples}


def main() -> None:
    """Measure every size; print a table; write the results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000000,5000000")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = []
    for size in map(int, args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as work:
            results.append(measure(size, args.runs, Path(work)))
        row = results[-1]
        for case, median in row["medians"].items():
            print(f"{size:>9,} {case:<14} {median}")
        print(f"{size:>9,} ratios (changes / full): {row['ratios']}")
    (HERE / "results-history.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
