"""One command for every benchmark in benchmarks/README.md.

    .venv/bin/python benchmarks/run.py [--runs 3] [--sizes 100000,1000000,5000000]
                                       [--baseline-max 1000000]

Starts the project's emulator (twice: without latency, and with 100 ms per
request for the many-audiences case), generates the audiences there and
measures, for each size and format: this tap, the typical-SDK-tap baseline
(`sdk_baseline_tap.py`), the plain emitter limit and a raw download
(`plain_emitter.py`); then many small audiences, sequential against parallel
downloads; then the emulator's raw serving rate. Every measured process
writes its stdout to /dev/null; its peak RSS comes from GNU time.
Each size and format is first run once with its output checked: every member
exactly once. Medians go to stdout as a table and to benchmarks/results.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import xxhash

from mx_audience_emulator.members import iter_member_ids
from mx_audience_emulator.model import Audience

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
TAP = str(Path(PYTHON).with_name("tap-mx-audience"))
TIME = "/usr/bin/time"  # GNU time (Debian package `time`)
INSTITUTION = "INST_BENCH"
CREDENTIALS = {"client_id": "bench", "client_secret": "bench-secret"}
UPDATED_ON = "2026-11-20"
MANY_AUDIENCES, MANY_SIZE, MANY_LATENCY = 200, 5_000, 0.1
METRIC = re.compile(rb"METRIC: (\{.*\})")


@dataclass
class Run:
    """One measured process."""

    wall_seconds: float
    max_rss_mib: float
    stderr: bytes

    def metric(self, name: str, stream: str) -> list[float]:
        """Values of one singer-sdk metric of one stream, from the log."""
        values = []
        for match in METRIC.finditer(self.stderr):
            metric = json.loads(match.group(1))
            tags = metric["tags"]
            if metric["metric"] == name and tags.get("stream") == stream:
                values.append(float(metric["value"]))
        return values

    @property
    def cpu_seconds(self) -> float:
        """User and system CPU time of the process, all threads, from GNU time."""
        return self.reported("cpu_user") + self.reported("cpu_system")

    def reported(self, key: str) -> float:
        """A `key=value` line the plain emitter printed."""
        match = re.search(
            rb"^" + key.encode() + rb"=([0-9.]+)$", self.stderr, re.MULTILINE
        )
        if match is None:
            msg = f"no {key}= in {self.stderr[-2000:]!r}"
            raise RuntimeError(msg)
        return float(match.group(1))


@dataclass
class Result:
    """Medians of one tool on one case."""

    case: str
    tool: str
    runs: int
    records: int
    wall_seconds: float
    max_rss_mib: float
    records_per_second: float | None
    streaming_records_per_second: float | None


def measure(command: list[str]) -> Run:
    """Run a process with stdout to /dev/null; its wall time, peak RSS and CPU.

    The peak RSS comes from GNU time, not from wait4() here: a child forked
    from this driver starts with the driver's RSS, which would be counted.
    """
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        completed = subprocess.run(
            [TIME, "-f", "maxrss_kib=%M\ncpu_user=%U\ncpu_system=%S", *command],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            check=False,
        )
        wall = time.perf_counter() - started
        stderr.seek(0)
        log = stderr.read()
    if completed.returncode != 0:
        msg = f"{command[:3]} failed ({completed.returncode}): {log[-3000:]!r}"
        raise RuntimeError(msg)
    run = Run(wall, 0.0, log)
    run.max_rss_mib = run.reported("maxrss_kib") / 1024
    return run


@contextmanager
def emulator(audiences: list[dict[str, Any]], latency: float) -> Iterator[str]:
    """The project's emulator (its CLI) serving these audiences; yields its URL."""
    config = {"clients": [CREDENTIALS], "audiences": audiences}
    with tempfile.NamedTemporaryFile("w", suffix=".json") as config_file:
        json.dump(config, config_file)
        config_file.flush()
        command = [PYTHON, "-m", "mx_audience_emulator", "--port", "0"]
        command += ["--config", config_file.name, "--latency", str(latency)]
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, text=True, cwd=HERE.parent
        ) as process:
            assert process.stdout is not None  # noqa: S101 - stdout is piped
            url = process.stdout.readline().rsplit(" ", 1)[-1].strip()
            try:
                yield url
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)


def audience(audience_id: str, size: int) -> dict[str, Any]:
    """An emulator audience: compact JSON, one-column CSV with a header."""
    return {
        "audience_id": audience_id,
        "institution_id": INSTITUTION,
        "size": size,
        "updated_on": UPDATED_ON,
    }


def tap_config(
    workdir: Path, url: str, ids: list[str], fmt: str, **extra: object
) -> str:
    """Write a config for this tap; return its path."""
    path = workdir / f"tap-{fmt}-{len(ids)}-{ids[0]}-{len(extra)}.json"
    config = {
        **CREDENTIALS,
        "api_url": url,
        "audiences": [
            {"id_or_slug": audience_id, "institution_public_id": INSTITUTION}
            for audience_id in ids
        ],
        "response_format": fmt,
        **extra,
    }
    path.write_text(json.dumps(config))
    return str(path)


def expected_fingerprint(audience_id: str, size: int) -> int:
    """xxh3 sum of the audience's member ids, straight from the emulator's model."""
    model = Audience(
        audience_id=audience_id,
        institution_id=INSTITUTION,
        size=size,
        updated_on=UPDATED_ON,
    )
    return sum(
        sum(map(xxhash.xxh3_64_intdigest, map(str.encode, batch)))
        for batch in iter_member_ids(model)
    ) % (1 << 64)


def check_tap_output(config: str, audience_id: str, size: int, tap: str = TAP) -> None:
    """Run the tap once with its output read: every member exactly once."""
    marker = b'"stream":"audience_members","record":'
    ids: set[bytes] = set()
    total = 0
    with subprocess.Popen(
        [tap, "--config", config], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    ) as process:
        assert process.stdout is not None  # noqa: S101 - stdout is piped
        for line in process.stdout:
            if marker in line:
                total += 1
                ids.add(line.split(b'"member_id":"', 1)[1].split(b'"', 1)[0])
    fingerprint = sum(map(xxhash.xxh3_64_intdigest, ids)) % (1 << 64)
    if total != size or len(ids) != size:
        msg = f"{audience_id}: {total} records, {len(ids)} distinct, want {size}"
        raise RuntimeError(msg)
    if fingerprint != expected_fingerprint(audience_id, size):
        msg = f"{audience_id}: the member ids differ from the emulator's"
        raise RuntimeError(msg)


def summarise(
    case: str, tool: str, records: int, runs: list[Run], streaming: list[float]
) -> Result:
    """Medians of several runs of one tool."""
    wall = statistics.median(run.wall_seconds for run in runs)
    stream_seconds = statistics.median(streaming) if streaming else None
    result = Result(
        case=case,
        tool=tool,
        runs=len(runs),
        records=records,
        wall_seconds=round(wall, 3),
        max_rss_mib=round(statistics.median(run.max_rss_mib for run in runs), 1),
        records_per_second=round(records / wall) if records else None,
        streaming_records_per_second=(
            round(records / stream_seconds) if records and stream_seconds else None
        ),
    )
    print(json.dumps(asdict(result)), flush=True)
    return result


def bench_size(  # noqa: PLR0913 - one benchmark case
    workdir: Path, url: str, *, size: int, fmt: str, runs: int, baseline_max: int
) -> list[Result]:
    """This tap, the baseline, the limit and a raw download on one audience."""
    audience_id = f"aud_{size}"
    case = f"{size:,} {fmt.upper()}"
    config = tap_config(workdir, url, [audience_id], fmt)
    check_tap_output(config, audience_id, size)
    results = []
    tap_runs = [measure([TAP, "--config", config]) for _ in range(runs)]
    check_tap_counts(case, tap_runs, size)
    durations = [
        sum(run.metric("sync_duration", "audience_members")) for run in tap_runs
    ]
    results.append(summarise(case, "tap-mx-audience", size, tap_runs, durations))
    if size <= baseline_max:
        baseline_config = workdir / f"baseline-{fmt}-{size}.json"
        baseline_config.write_text(
            json.dumps(
                {
                    **CREDENTIALS,
                    "api_url": url,
                    "audience": audience_id,
                    "institution": INSTITUTION,
                    "response_format": fmt,
                }
            )
        )
        command = [PYTHON, str(HERE / "sdk_baseline_tap.py")]
        command += ["--config", str(baseline_config)]
        base_runs = [measure(command) for _ in range(runs if size < 10**6 else 1)]
        base_durations = [
            sum(run.metric("sync_duration", "audience_members")) for run in base_runs
        ]
        results.append(
            summarise(case, "typical SDK tap", size, base_runs, base_durations)
        )
    emitter = [PYTHON, str(HERE / "plain_emitter.py")]
    target = [url, audience_id, INSTITUTION, fmt]
    limit_runs = [measure([*emitter, "emit", *target]) for _ in range(runs)]
    for run in limit_runs:
        if run.reported("records") != size:
            msg = f"{case}: the plain emitter wrote {run.reported('records')}"
            raise RuntimeError(msg)
    limit_times = [run.reported("emit_seconds") for run in limit_runs]
    results.append(summarise(case, "plain emitter", size, limit_runs, limit_times))
    download_runs = [measure([*emitter, "download", *target]) for _ in range(runs)]
    results.append(summarise(case, "raw download", 0, download_runs, []))
    return results


def check_tap_counts(case: str, runs: list[Run], expected: int) -> None:
    """Every timed tap run must have sent every member: speed without loss."""
    for run in runs:
        count = sum(run.metric("record_count", "audience_members"))
        if count != expected:
            msg = f"{case}: the tap counted {count} records, not {expected}"
            raise RuntimeError(msg)


def bench_many(workdir: Path, url: str, runs: int) -> list[Result]:
    """Many small audiences behind a slow API: sequential against parallel."""
    ids = [f"many_{index:03d}" for index in range(MANY_AUDIENCES)]
    case = f"{MANY_AUDIENCES} x {MANY_SIZE:,} JSON, {MANY_LATENCY * 1000:.0f} ms"
    total = MANY_AUDIENCES * MANY_SIZE
    results = []
    for parallel in (1, 4, 8):
        config = tap_config(workdir, url, ids, "json", parallel_downloads=parallel)
        measured = [measure([TAP, "--config", config]) for _ in range(runs)]
        check_tap_counts(case, measured, total)
        tool = f"tap-mx-audience, parallel_downloads={parallel}"
        results.append(summarise(case, tool, total, measured, []))
    return results


def serving_rate(url: str, size: int, fmt: str, runs: int) -> Result:
    """How fast the emulator serves a list to a client that only counts bytes."""
    token = requests.post(f"{url}/api/token", json=CREDENTIALS, timeout=60)
    headers = {
        "Authorization": f"Bearer {token.json()['access_token']}",
        "Accept": "text/csv" if fmt == "csv" else "application/json",
    }
    path = f"/api/v1/audience/aud_{size}/list?institution_public_id={INSTITUTION}"
    parts = urlsplit(url)
    buffer = memoryview(bytearray(1 << 20))
    times = []
    for _ in range(runs):
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port)
        started = time.perf_counter()
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        while response.readinto(buffer):
            pass
        times.append(time.perf_counter() - started)
        connection.close()
    seconds = statistics.median(times)
    result = Result(
        case=f"{size:,} {fmt.upper()}",
        tool="emulator serving (bytes discarded)",
        runs=runs,
        records=size,
        wall_seconds=round(seconds, 3),
        max_rss_mib=0.0,
        records_per_second=round(size / seconds),
        streaming_records_per_second=None,
    )
    print(json.dumps(asdict(result)), flush=True)
    return result


def main() -> None:
    """Run everything; print JSON lines, then write results.json."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="100000,1000000,5000000")
    parser.add_argument(
        "--baseline-max",
        type=int,
        default=1_000_000,
        help="largest size the slow baseline runs at (once when >= 1,000,000)",
    )
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        big = [audience(f"aud_{size}", size) for size in sizes]
        with emulator(big, 0.0) as url:
            for size in sizes:
                for fmt in ("json", "csv"):
                    results += bench_size(
                        workdir,
                        url,
                        size=size,
                        fmt=fmt,
                        runs=args.runs,
                        baseline_max=args.baseline_max,
                    )
            results += [
                serving_rate(url, max(sizes), fmt, args.runs) for fmt in ("json", "csv")
            ]
        many = [
            audience(f"many_{index:03d}", MANY_SIZE) for index in range(MANY_AUDIENCES)
        ]
        with emulator(many, MANY_LATENCY) as url:
            results += bench_many(workdir, url, args.runs)
    (HERE / "results.json").write_text(
        json.dumps([asdict(result) for result in results], indent=1) + "\n"
    )


if __name__ == "__main__":
    main()
