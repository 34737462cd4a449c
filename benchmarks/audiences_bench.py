"""Many small audiences: first run and unchanged re-run, per-audience overhead.

    .venv/bin/python benchmarks/audiences_bench.py [--counts 100,1000,10000]
        [--runs 3] [--tap after=.venv/bin/tap-mx-audience] [--tap before=...]
        [--max-count before=1000] [--timeout 600] [--out results-audiences.json]

The project's emulator (a separate process, no latency) serves N audiences of
20 members each (one audience per id). For each N and each tap given with
`--tap LABEL=EXECUTABLE` (several taps run interleaved, run by run, so a busy
machine slows them alike): a first run without state, then an unchanged
re-run with the first run's final STATE. Measured per process, stdout to a
file: wall time, CPU time (user+sys, GNU time), peak RSS (GNU time), STATE
bytes written (the sum of the STATE lines) and the tap's `Run summary` line.
Medians of `--runs` (one run from 10,000 audiences on). A run longer than
`--timeout` seconds is stopped and reported as a timeout.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.run import audience, emulator, tap_config  # noqa: E402

MEMBERS = 20
ONE_RUN_FROM = 10_000
STATE_LINE = re.compile(rb'^\{"type": ?"STATE"')
SUMMARY = re.compile(rb"Run summary: [^\n\"]*")
TIMES = re.compile(rb"user=([0-9.]+) sys=([0-9.]+) maxrss_kib=([0-9]+)")
GNU_TIME = ["/usr/bin/time", "-f", "user=%U sys=%S maxrss_kib=%M"]


@dataclass
class TapRun:
    """One tap process: what it cost and what it wrote."""

    wall_seconds: float
    cpu_seconds: float
    max_rss_mib: float
    state_bytes: int
    state_lines: int
    summary: str
    final_state: str
    timed_out: bool = False


def run_tap(tap: str, config: str, state: str | None, timeout: float) -> TapRun:
    """Run the tap once under GNU time; stdout goes to a file that is then read."""
    command = [*GNU_TIME, tap]
    command += ["--config", config]
    with tempfile.TemporaryDirectory() as tmp:
        if state is not None:
            state_path = Path(tmp) / "state.json"
            state_path.write_text(state)
            command += ["--state", str(state_path)]
        out_path, err_path = Path(tmp) / "out", Path(tmp) / "err"
        with out_path.open("wb") as out, err_path.open("wb") as err:
            started = time.perf_counter()
            try:
                completed = subprocess.run(
                    command, stdout=out, stderr=err, timeout=timeout, check=False
                )
            except subprocess.TimeoutExpired:
                return TapRun(timeout, 0.0, 0.0, 0, 0, "", "", timed_out=True)
            wall = time.perf_counter() - started
        log = err_path.read_bytes()
        if completed.returncode != 0:
            msg = f"{tap} failed ({completed.returncode}): {log[-3000:]!r}"
            raise RuntimeError(msg)
        state_bytes = state_lines = 0
        final_state = b""
        with out_path.open("rb") as out:
            for line in out:
                if STATE_LINE.match(line):
                    state_bytes += len(line)
                    state_lines += 1
                    final_state = line
    cpu, rss = cost(log)
    summary = SUMMARY.findall(log)
    return TapRun(
        wall_seconds=round(wall, 3),
        cpu_seconds=round(cpu, 2),
        max_rss_mib=round(rss, 1),
        state_bytes=state_bytes,
        state_lines=state_lines,
        summary=summary[-1].decode() if summary else "",
        final_state=json.dumps(json.loads(final_state)["value"]),
    )


def cost(log: bytes) -> tuple[float, float]:
    """CPU seconds (user+sys) and peak RSS MiB that GNU time added to a log."""
    user, system, rss = TIMES.findall(log)[-1]
    return float(user) + float(system), int(rss) / 1024


@dataclass
class Row:
    """Medians of one tap, one audience count, one kind of run."""

    tap: str
    audiences: int
    run: str
    runs: int
    wall_seconds: float
    cpu_seconds: float
    cpu_ms_per_audience: float
    max_rss_mib: float
    state_bytes: int
    state_lines: int
    summary: str
    timed_out: bool


def row(tap: str, count: int, kind: str, runs: list[TapRun]) -> Row:
    """Summarise the runs of one kind; print it as a JSON line too."""
    done = [run for run in runs if not run.timed_out] or runs

    def median(values: list[float]) -> float:
        return round(statistics.median(values), 3)

    cpu = median([run.cpu_seconds for run in done])
    result = Row(
        tap=tap,
        audiences=count,
        run=kind,
        runs=len(done),
        wall_seconds=median([run.wall_seconds for run in done]),
        cpu_seconds=cpu,
        cpu_ms_per_audience=round(cpu * 1000 / count, 3),
        max_rss_mib=median([run.max_rss_mib for run in done]),
        state_bytes=int(median([float(run.state_bytes) for run in done])),
        state_lines=int(median([float(run.state_lines) for run in done])),
        summary=done[-1].summary,
        timed_out=any(run.timed_out for run in runs),
    )
    print(json.dumps(asdict(result)), flush=True)
    return result


def bench_count(
    count: int, taps: dict[str, str], runs: int, timeout: float
) -> list[Row]:
    """N audiences: every tap's first run and unchanged re-run, interleaved."""
    ids = [f"aud_{index:05d}" for index in range(count)]
    audiences = [audience(audience_id, MEMBERS) for audience_id in ids]
    first: dict[str, list[TapRun]] = {label: [] for label in taps}
    rerun: dict[str, list[TapRun]] = {label: [] for label in taps}
    with tempfile.TemporaryDirectory() as tmp, emulator(audiences, 0.0) as url:
        config = tap_config(Path(tmp), url, ids, "json")
        for _ in range(runs):
            for label, tap in taps.items():
                if any(run.timed_out for run in first[label] + rerun[label]):
                    continue
                initial = run_tap(tap, config, None, timeout)
                first[label].append(initial)
                if not initial.timed_out:
                    rerun[label].append(
                        run_tap(tap, config, initial.final_state, timeout)
                    )
    rows = []
    for label in taps:
        rows.append(row(label, count, "first run", first[label]))
        if rerun[label]:
            rows.append(row(label, count, "unchanged re-run", rerun[label]))
    return rows


def labelled(values: list[str]) -> dict[str, str]:
    """`LABEL=VALUE` arguments as a dict, in the order given."""
    return dict(value.split("=", 1) for value in values)


def main() -> None:
    """Every count, every tap; JSON lines to stdout, all rows to --out."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--counts", default="100,1000,10000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tap", action="append", default=[])
    parser.add_argument("--max-count", action="append", default=[])
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--out", default=str(HERE / "results-audiences.json"))
    args = parser.parse_args()
    taps = labelled(args.tap) or {
        "after": str(Path(sys.executable).with_name("tap-mx-audience"))
    }
    taps = {label: str(Path(tap).resolve()) for label, tap in taps.items()}
    limits = {label: int(limit) for label, limit in labelled(args.max_count).items()}
    rows: list[Row] = []
    for count in (int(count) for count in args.counts.split(",")):
        chosen = {
            label: tap
            for label, tap in taps.items()
            if count <= limits.get(label, count)
        }
        runs = 1 if count >= ONE_RUN_FROM else args.runs
        rows += bench_count(count, chosen, runs, args.timeout)
    Path(args.out).write_text(
        json.dumps([asdict(result) for result in rows], indent=1) + "\n"
    )


if __name__ == "__main__":
    main()
