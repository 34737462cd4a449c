"""Model-based test: random sequences of list changes, runs, kills and lost states.

After every completed run, the README's current-membership query in real
PostgreSQL (loaded by `meltano run tap-mx-audience target-postgres`) must
equal the emulator's lists exactly. Between runs the lists change the ways MX
lists do: members join and leave, a second change on the same day, a date that
moves backwards, an audience that empties, members who come back. Some runs
are killed midway (the target applies a random prefix of the tap's output and
Meltano keeps the last STATE the target confirmed); in changes mode some runs
are applied whole while their STATE is lost.
"""

from __future__ import annotations

import datetime
import json
import random
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.emulatoradmin import EmulatorAdmin, audience
from tests.support.meltano_support import (
    MeltanoProject,
    PostgresCluster,
    postgres_env,
    readme_queries,
    tap_env,
)
from tests.support.tapdriver import tap_command

pytestmark = pytest.mark.meltano

STATE_ID = "dev:tap-mx-audience-to-target-postgres"
AUDIENCES = ("aud_m1", "aud_m2", "aud_m3")
STEPS = 7
START = datetime.date(2026, 11, 1)


@dataclass
class World:
    """The emulator's audiences as the model sees them: a window and a date."""

    offset: dict[str, int]
    size: dict[str, int]
    day: dict[str, int]

    def change(self, name: str, rng: random.Random) -> dict[str, Any]:
        """One random MX-like change to an audience; the emulator patch for it."""
        kind = rng.choice(
            ["churn", "churn", "same-day", "backwards", "empty", "rejoin", "none"]
        )
        if kind in {"churn", "same-day"}:
            self.offset[name] += rng.randint(0, 6)
            self.size[name] = max(0, self.size[name] + rng.randint(-4, 6))
        elif kind == "empty":
            self.size[name] = 0
        elif kind == "rejoin":
            self.offset[name] = max(0, self.offset[name] - rng.randint(1, 8))
            self.size[name] += rng.randint(1, 8)
        if kind == "backwards":
            self.day[name] -= rng.randint(1, 3)
            self.offset[name] += 1
        elif kind not in {"same-day", "none"}:
            self.day[name] += 1
        return {
            "offset": self.offset[name],
            "size": self.size[name],
            "updated_on": (START + datetime.timedelta(self.day[name])).isoformat(),
        }


def _current(
    cluster: PostgresCluster, database: str, query: str
) -> set[tuple[str, str]]:
    with cluster.connect(database) as connection:
        rows = connection.execute(query).fetchall()
    return {(str(row[0]), str(row[2])) for row in rows}


def _expected(emulator: EmulatorAdmin) -> set[tuple[str, str]]:
    return {(name, member) for name in AUDIENCES for member in emulator.members(name)}


def _saved_singer_state(project: MeltanoProject) -> dict[str, Any] | None:
    run = project.command("state", "get", STATE_ID)
    if run.returncode != 0 or not run.stdout.strip():
        return None
    state: dict[str, Any] = json.loads(run.stdout).get("singer_state") or {}
    return state or None


def _tap_output(tmp_path: Path, config: dict[str, Any], state: Any) -> list[bytes]:  # noqa: ANN401
    """The tap's whole output for one run, as its lines."""
    completed = subprocess.run(
        tap_command(tmp_path, config, state=state),
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr.decode()[-2000:]
    return completed.stdout.splitlines(keepends=True)


def _apply(project: MeltanoProject, lines: list[bytes]) -> list[dict[str, Any]]:
    """Feed lines to target-postgres; the STATE values it confirmed."""
    target = project.command(
        "invoke", "target-postgres", stdin=b"".join(lines).decode()
    )
    assert target.returncode == 0, target.output[-3000:]
    return [json.loads(line) for line in target.stdout.splitlines() if line.strip()]


def _run_step(
    action: str,
    project: MeltanoProject,
    tmp_path: Path,
    config: dict[str, Any],
    rng: random.Random,
) -> None:
    if action == "run":
        run = project.command("run", "tap-mx-audience", "target-postgres")
        assert run.returncode == 0, run.output[-3000:]
        return
    lines = _tap_output(tmp_path, config, _saved_singer_state(project))
    if action == "kill":
        lines = lines[: rng.randint(1, max(1, len(lines) - 1))]
    confirmed = _apply(project, lines)
    if action == "kill" and confirmed:
        saved = project.command(
            "state",
            "set",
            "--force",
            STATE_ID,
            json.dumps({"singer_state": confirmed[-1]}),
        )
        assert saved.returncode == 0, saved.output


@pytest.mark.parametrize("mode", ["full", "changes"])
@pytest.mark.parametrize("seed", [1, 2])
def test_current_members_exact_after_any_sequence(  # noqa: PLR0913, PLR0917 - fixtures
    meltano_plugins: MeltanoProject,
    postgres: PostgresCluster,
    emulator: EmulatorAdmin,
    tmp_path: Path,
    mode: str,
    seed: int,
) -> None:
    rng = random.Random(f"{mode}-{seed}")  # noqa: S311 - a reproducible test sequence
    world = World(
        offset=dict.fromkeys(AUDIENCES, 0),
        size={name: rng.randint(5, 40) for name in AUDIENCES},
        day=dict.fromkeys(AUDIENCES, 0),
    )
    emulator.configure(
        [
            audience(name, world.size[name], updated_on=START.isoformat())
            for name in AUDIENCES
        ]
    )
    database = postgres.create_database(f"model_{mode}_{seed}")
    settings = (
        {"snapshot_store": str(tmp_path / "snapshots")} if mode == "changes" else {}
    )
    config = emulator.tap_config(*AUDIENCES, **settings)
    env = {
        **tap_env(
            emulator.url,
            config["client_id"],
            config["client_secret"],
            config["audiences"],
        ),
        **{f"TAP_MX_AUDIENCE_{key.upper()}": value for key, value in settings.items()},
        **postgres_env(postgres, database),
    }
    project = meltano_plugins.isolated(tmp_path, **env)
    query = readme_queries(f"-- {mode.capitalize()} mode: current members")[0]
    actions = ["run", "run", "kill"] + (["lost-state"] if mode == "changes" else [])

    history = []
    for step in range(STEPS):
        action = "run" if step in {0, STEPS - 1} else rng.choice(actions)
        for name in AUDIENCES:
            if step and rng.random() < 0.7:
                emulator.patch(name, **world.change(name, rng))
        history.append(action)
        _run_step(action, project, tmp_path, config, rng)
        if action == "run":
            assert _current(postgres, database, query) == _expected(emulator), (
                f"after steps {history}"
            )
