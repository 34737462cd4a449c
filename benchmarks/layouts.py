"""Time the tap on one audience in every list layout, relative to compact JSON.

    .venv/bin/python -m benchmarks.layouts [--runs 3] [--size 1000000]

One emulator serves the same-size audience in each layout (`json_layout`,
`csv_header`, `csv_line_ending`); each case is first run once with its output
read (every member exactly once), then the cases are timed round-robin, one
run of each per round, so that load from other processes on the machine falls
on every layout alike. Prints one JSON line per case and a Markdown table of
medians of wall time and of the tap's CPU time (user + system, all threads,
from GNU time: less sensitive to other load), each with its ratio to compact
JSON of the same build in the same round. `--tap` times several builds of the
tap (say, before and after a change) in the same rounds.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from statistics import median
from typing import Any

from benchmarks.run import (
    TAP,
    Run,
    audience,
    check_tap_counts,
    check_tap_output,
    emulator,
    measure,
    tap_config,
)

# name: (response_format, the audience's layout fields)
LAYOUTS: dict[str, tuple[str, dict[str, Any]]] = {
    "JSON compact": ("json", {"json_layout": "compact"}),
    "JSON spaced colon": ("json", {"json_layout": "spaced_colon"}),
    "JSON spaced comma": ("json", {"json_layout": "spaced_comma"}),
    "JSON spaced both": ("json", {"json_layout": "spaced"}),
    "JSON pretty LF": ("json", {"json_layout": "pretty"}),
    "JSON pretty CRLF": ("json", {"json_layout": "pretty_crlf"}),
    "CSV header CRLF": ("csv", {"csv_line_ending": "crlf"}),
    "CSV header LF": ("csv", {"csv_line_ending": "lf"}),
    "CSV no header CRLF": ("csv", {"csv_header": None, "csv_line_ending": "crlf"}),
    "CSV no header LF": ("csv", {"csv_header": None, "csv_line_ending": "lf"}),
}
REFERENCE = "JSON compact"


def main() -> None:
    """Check every layout once, time them interleaved, print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument(
        "--tap",
        action="append",
        metavar="LABEL=EXECUTABLE",
        help="a tap build to time (repeatable, e.g. before=../old/.venv/bin/"
        "tap-mx-audience); all builds run interleaved. Default: this venv's",
    )
    args = parser.parse_args()
    taps = dict(tap.split("=", 1) for tap in args.tap or [f"tap={TAP}"])
    ids = {name: f"layout_{index}" for index, name in enumerate(LAYOUTS)}
    audiences = [
        {**audience(ids[name], args.size), **fields}
        for name, (_, fields) in LAYOUTS.items()
    ]
    runs: dict[tuple[str, str], list[Run]] = {
        (tap, name): [] for tap in taps for name in LAYOUTS
    }
    with tempfile.TemporaryDirectory() as tmp, emulator(audiences, 0.0) as url:
        configs = {
            name: tap_config(Path(tmp), url, [ids[name]], fmt)
            for name, (fmt, _) in LAYOUTS.items()
        }
        for executable in taps.values():
            for name, config in configs.items():
                check_tap_output(config, ids[name], args.size, executable)
        for _ in range(args.runs):
            for (tap, name), measured in runs.items():
                measured.append(measure([taps[tap], "--config", configs[name]]))
    report(runs, args.size)


def report(runs: dict[tuple[str, str], list[Run]], size: int) -> None:
    """JSON lines of every run, then medians relative to each build's compact JSON.

    A ratio is the median of per-round ratios: a layout against compact JSON
    of the same build in the same round, so load that comes and goes between
    rounds cancels out.
    """
    for (tap, name), measured in runs.items():
        check_tap_counts(f"{tap} {name}", measured, size)
        record = {
            "tap": tap,
            "layout": name,
            "wall_seconds": [round(run.wall_seconds, 3) for run in measured],
            "cpu_seconds": [round(run.cpu_seconds, 2) for run in measured],
        }
        print(json.dumps(record))
    taps = list(dict.fromkeys(tap for tap, _ in runs))
    rounds = len(next(iter(runs.values())))
    print(f"\n{size:,} members, {rounds} rounds; median (x compact JSON, paired)")
    print("\n| layout |" + "".join(f" {tap}: wall s | {tap}: CPU s |" for tap in taps))
    print("| --- |" + " ---: | ---: |" * len(taps))
    for name in LAYOUTS:
        cells = "".join(
            f" {_cell(runs[tap, name], runs[tap, REFERENCE], 'wall_seconds')} |"
            f" {_cell(runs[tap, name], runs[tap, REFERENCE], 'cpu_seconds')} |"
            for tap in taps
        )
        print(f"| {name} |{cells}")


def _cell(measured: list[Run], reference: list[Run], seconds: str) -> str:
    """`median (paired ratio x)` of one measure of one case."""
    values = [getattr(run, seconds) for run in measured]
    ratios = [
        value / getattr(base, seconds)
        for value, base in zip(values, reference, strict=True)
    ]
    return f"{median(values):.2f} ({median(ratios):.2f}x)"


if __name__ == "__main__":
    main()
