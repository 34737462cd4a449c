"""Start-up: import time of the tap module and `tap-mx-audience --about`.

    .venv/bin/python benchmarks/startup_bench.py [--runs 5]
        [--tap after=.venv/bin/tap-mx-audience] [--tap before=...]

For each tap given as `LABEL=EXECUTABLE` (its venv's `python` next to it),
interleaved run by run: `python -X importtime -c "import tap_mx_audience.tap"`
(total, singer-sdk's share, this package's own modules) and `--about` under
GNU time (wall, CPU user+sys). Bytecode caches are written first (a warm
start, as after `pip install`). Medians; the top cumulative imports of the
last run of each tap. Results: stdout and benchmarks/results-startup.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.audiences_bench import GNU_TIME, cost, labelled  # noqa: E402

IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")
ENV = {
    key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"
}


def import_times(python: str) -> dict[str, tuple[int, int]]:
    """Self and cumulative microseconds of every module the tap imports."""
    log = subprocess.run(
        [python, "-X", "importtime", "-c", "import tap_mx_audience.tap"],
        capture_output=True,
        text=True,
        check=True,
        env=ENV,
    ).stderr
    return {
        match.group(4): (int(match.group(1)), int(match.group(2)))
        for match in IMPORT_LINE.finditer(log)
    }


def about(tap: str) -> tuple[float, float]:
    """Wall and CPU seconds of `--about`."""
    started = time.perf_counter()
    completed = subprocess.run(
        [*GNU_TIME, tap, "--about"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=True,
        env=ENV,
    )
    wall = time.perf_counter() - started
    return wall, cost(completed.stderr)[0]


def main() -> None:
    """Interleaved runs of every tap; medians to stdout and results-startup.json."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tap", action="append", default=[])
    args = parser.parse_args()
    taps = labelled(args.tap) or {
        "after": str(Path(sys.executable).with_name("tap-mx-audience"))
    }
    samples: dict[str, list[tuple[float, float, float, float, float]]] = {
        label: [] for label in taps
    }
    last: dict[str, dict[str, tuple[int, int]]] = {}
    for tap in taps.values():
        about(tap)  # writes the bytecode caches
    for _ in range(args.runs):
        for label, tap in taps.items():
            modules = import_times(str(Path(tap).with_name("python")))
            own = sum(
                s for name, (s, _) in modules.items() if name.startswith("tap_mx")
            )
            wall, cpu = about(tap)
            samples[label].append(
                (
                    modules["tap_mx_audience.tap"][1] / 1e6,
                    modules["singer_sdk"][1] / 1e6,
                    own / 1e6,
                    wall,
                    cpu,
                )
            )
            last[label] = modules
    results = []
    for label, runs in samples.items():
        columns = list(zip(*runs, strict=True))
        top = sorted(last[label].items(), key=lambda item: -item[1][1])[:15]
        result = {
            "tap": label,
            "runs": len(runs),
            "import_seconds": round(statistics.median(columns[0]), 3),
            "singer_sdk_import_seconds": round(statistics.median(columns[1]), 3),
            "own_modules_self_seconds": round(statistics.median(columns[2]), 3),
            "about_wall_seconds": round(statistics.median(columns[3]), 3),
            "about_cpu_seconds": round(statistics.median(columns[4]), 3),
            "top_cumulative_ms": {name: round(cum / 1000, 1) for name, (_, cum) in top},
        }
        print(json.dumps(result), flush=True)
        results.append(result)
    (HERE / "results-startup.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
