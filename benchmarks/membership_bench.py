"""`meltano run tap-mx-audience target-postgres`, one big audience, day by day.

    bash scripts/meltano-venv.sh
    .venv/bin/python benchmarks/membership_bench.py [--members 1000000] [--runs 1]

The project's emulator (a separate process) serves one audience of N members.
Day 1 is the first load; day 2 moves the audience's window by 1% (emulator
`PATCH offset`, size unchanged): exactly 1% of the members leave and 1% join,
with a later `updated_on`; day 3 serves day 2 again (unchanged: the fixed cost
of a `meltano run`). Both modes run in the same invocation, interleaved day by
day, each with a fresh PostgreSQL database (one throwaway cluster) and a fresh
Meltano state database: full mode (default) and changes mode
(`snapshot_store`, a temporary directory). Measured: wall time of every
`meltano run`, its CPU time (user+sys of meltano, the tap and the target, not
of the PostgreSQL server), and the members sent (the tap's `Run summary`
line). Before the day-2 `meltano run`, the tap alone runs the same day 2 (the
day-1 state that Meltano saved, a copy of the snapshot store, stdout to
/dev/null) `--runs` times: wall and CPU time (user+sys, GNU time) and peak
RSS. After each day the README's current-members query of each mode must
return exactly N rows.
Results: stdout and benchmarks/results-membership.json.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.audiences_bench import GNU_TIME, cost  # noqa: E402
from benchmarks.run import CREDENTIALS, INSTITUTION, TAP, audience, emulator  # noqa: E402
from tests.support.meltano_support import (  # noqa: E402
    MeltanoProject,
    PostgresCluster,
    postgres_cluster,
    postgres_env,
    readme_queries,
    tap_env,
)

AUDIENCE_ID = "aud_bench"
STATE_ID = "dev:tap-mx-audience-to-target-postgres"
DAYS = {1: "2026-11-20", 2: "2026-11-21", 3: "2026-11-21"}
MODES = ("full", "changes")
SUMMARY = re.compile(r"Run summary: [^\n\"]*?records sent: ([^;]*);[^\n\"]*")


@dataclass
class Result:
    """One measured step of one mode."""

    mode: str
    day: int
    what: str
    runs: int
    wall_seconds: float
    cpu_seconds: float | None
    max_rss_mib: float | None
    members_sent: int
    current_members: int | None
    summary: str


@dataclass
class Mode:
    """One mode's isolated pipeline: its database, Meltano state and store."""

    name: str
    project: MeltanoProject
    database: str
    tap_config: dict[str, Any]
    store: Path | None


def patch_day(url: str, day: int, shift: int) -> None:
    """Day 1: the window at 0; day 2 moves it by `shift`; day 3 is day 2 again."""
    response = requests.patch(
        f"{url}/_emulator/audiences/{AUDIENCE_ID}",
        json={"offset": 0 if day == 1 else shift, "updated_on": DAYS[day]},
        timeout=30,
    )
    response.raise_for_status()


def sent(output: str) -> tuple[int, str]:
    """Rows of both member streams sent, from the tap's `Run summary` line."""
    lines = list(SUMMARY.finditer(output))
    if not lines:
        msg = f"no Run summary in {output[-3000:]}"
        raise RuntimeError(msg)
    counts = dict(
        reversed(item.split(" ", 1)) for item in lines[-1].group(1).split(", ")
    )
    members = sum(
        int(counts.get(stream, 0))
        for stream in ("audience_members", "membership_periods")
    )
    return members, lines[-1].group(0)


def current_members(cluster: PostgresCluster, mode: Mode) -> int:
    """Rows of the README's current-members query for this mode."""
    query = (
        readme_queries(f"-- {mode.name.capitalize()} mode: current members")[0]
        .replace("'high_value_members'", f"'{AUDIENCE_ID}'")
        .replace("'INST_PUBLIC_ID'", f"'{INSTITUTION}'")
    )
    with cluster.connect(mode.database) as connection:
        return len(connection.execute(query).fetchall())


def meltano_day(cluster: PostgresCluster, mode: Mode, day: int) -> Result:
    """One `meltano run`, timed; the warehouse checked afterwards."""
    cpu_before = _children_cpu()
    started = time.perf_counter()
    run = mode.project.command(
        "run", "tap-mx-audience", "target-postgres", timeout=7200
    )
    wall = time.perf_counter() - started
    cpu = _children_cpu() - cpu_before
    if run.returncode != 0:
        msg = f"{mode.name} day {day}: meltano run failed: {run.output[-3000:]}"
        raise RuntimeError(msg)
    members, line = sent(run.output)
    result = Result(
        mode=mode.name,
        day=day,
        what="meltano run tap-mx-audience target-postgres",
        runs=1,
        wall_seconds=round(wall, 2),
        cpu_seconds=round(cpu, 2),
        max_rss_mib=None,
        members_sent=members,
        current_members=current_members(cluster, mode),
        summary=line,
    )
    print(json.dumps(asdict(result)), flush=True)
    return result


def _children_cpu() -> float:
    """User+sys CPU of the finished children (meltano, its tap and target)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def tap_alone(mode: Mode, day: int, runs: int, workdir: Path) -> Result:
    """The tap alone on the day Meltano is about to run, from Meltano's state."""
    state = mode.project.command("state", "get", STATE_ID)
    if state.returncode != 0:
        raise RuntimeError(state.output)
    state_path = workdir / f"{mode.name}-state.json"
    state_path.write_text(json.dumps(json.loads(state.stdout)["singer_state"]))
    walls, cpus, rsss, members, line = [], [], [], 0, ""
    for index in range(runs):
        config = dict(mode.tap_config)
        if mode.store is not None:
            copy = workdir / f"{mode.name}-store-{index}"
            shutil.copytree(mode.store, copy)
            config["snapshot_store"] = str(copy)
        config_path = workdir / f"{mode.name}-config.json"
        config_path.write_text(json.dumps(config))
        command = [*GNU_TIME, TAP]
        command += ["--config", str(config_path), "--state", str(state_path)]
        started = time.perf_counter()
        completed = subprocess.run(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
        )
        walls.append(time.perf_counter() - started)
        log = completed.stderr
        if completed.returncode != 0:
            msg = f"{mode.name}: the tap failed: {log[-3000:]!r}"
            raise RuntimeError(msg)
        cpu, rss = cost(log)
        cpus.append(cpu)
        rsss.append(rss)
        members, line = sent(log.decode())
    result = Result(
        mode=mode.name,
        day=day,
        what="tap alone, stdout to /dev/null",
        runs=runs,
        wall_seconds=round(statistics.median(walls), 2),
        cpu_seconds=round(statistics.median(cpus), 2),
        max_rss_mib=round(statistics.median(rsss), 1),
        members_sent=members,
        current_members=None,
        summary=line,
    )
    print(json.dumps(asdict(result)), flush=True)
    return result


def make_mode(
    name: str,
    plugins: MeltanoProject,
    cluster: PostgresCluster,
    url: str,
    workdir: Path,
) -> Mode:
    """A fresh database, Meltano state and (changes mode) store for one mode."""
    modedir = workdir / name
    modedir.mkdir()
    store = modedir / "snapshots" if name == "changes" else None
    audiences = [{"id_or_slug": AUDIENCE_ID, "institution_public_id": INSTITUTION}]
    settings = {} if store is None else {"snapshot_store": str(store)}
    config = {**CREDENTIALS, "api_url": url, "audiences": audiences, **settings}
    env = {
        **tap_env(config),
        **postgres_env(cluster, cluster.create_database(f"bench_{name}")),
    }
    return Mode(name, plugins.isolated(modedir, **env), f"bench_{name}", config, store)


def main() -> None:
    """Install the plugins, then day 1 and day 2 of both modes, interleaved."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1, help="runs of the tap alone")
    args = parser.parse_args()
    shift = args.members // 100
    results: list[Result] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        postgres_cluster() as cluster,
        emulator([audience(AUDIENCE_ID, args.members)], 0.0) as url,
    ):
        workdir = Path(tmp)
        plugins = MeltanoProject(workdir / "meltano-sys")
        install = plugins.command("install", "tap-mx-audience", "target-postgres")
        if install.returncode != 0:
            raise RuntimeError(install.output[-3000:])
        modes = [make_mode(name, plugins, cluster, url, workdir) for name in MODES]
        for day in DAYS:
            patch_day(url, day, shift)
            if day == 2:  # noqa: PLR2004 - the day that changes
                results += [tap_alone(mode, day, args.runs, workdir) for mode in modes]
            results += [meltano_day(cluster, mode, day) for mode in modes]
    for result in results:
        if result.current_members not in {None, args.members}:
            msg = f"{result.mode} day {result.day}: {result.current_members} current"
            raise RuntimeError(msg)
    (HERE / "results-membership.json").write_text(
        json.dumps([asdict(result) for result in results], indent=1) + "\n"
    )


if __name__ == "__main__":
    main()
