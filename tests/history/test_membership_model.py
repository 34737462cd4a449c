"""Model-based test: random sequences of list changes and runs, checked in PostgreSQL.

Real `meltano run`s load target-postgres (upsert) into real PostgreSQL.
Between runs the emulator's lists change the ways MX lists do: members join
and leave, a second change on the same day, a date that moves backwards, an
audience that empties, members who come back. Some runs are killed midway
(the target applies a random prefix of the tap's output and Meltano keeps the
last STATE the target confirmed); in changes mode some runs are applied whole
while their STATE is lost.

Changes mode adds what a shared store sees in production: a second pipeline
(its own loader, PostgreSQL schema and Meltano state id) on the same snapshot
store, full refreshes that keep the target (`meltano run --full-refresh`,
`meltano state clear`), and both pipelines' runs started at the same moment.
After every completed `meltano run`, each pipeline whose target holds a whole
run is checked with the README's queries: current members are the list it
was last given; stints never overlap and at most one is open per member;
every list any run fetched until then is the members at its time; a member
of every list since the first has one stint.
"""

from __future__ import annotations

import datetime
import json
import random
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.support.emulatoradmin import INSTITUTION, EmulatorAdmin, audience
from tests.support.meltano_support import (
    LOADER_ROLE,
    MeltanoProject,
    PostgresCluster,
    finished,
    postgres_env,
    tap_env,
    write_project,
)
from tests.support.pghistory import LoadedAudience
from tests.support.tapdriver import tap_command

pytestmark = pytest.mark.meltano

AUDIENCES = ("aud_m1", "aud_m2", "aud_m3")
START = datetime.date(2026, 11, 1)
FULL_MODE_STEPS = 7
CHANGES_MODE_STEPS = 16
FULL_MODE_ACTIONS = ("run", "run", "kill")
CHANGES_MODE_ACTIONS = (
    "run",
    "kill",
    "lost-state",
    "full-refresh",
    "state-clear",
    "together",
)
"""Each is in every changes-mode sequence at least once."""


@dataclass(frozen=True)
class Pipeline:
    """An extractor and a loader of the test project: a schema and a state of its own.

    The second pipeline's extractor inherits the first one unchanged (the
    same settings, so the same snapshot store): Meltano 4.4 keeps an
    extractor's catalog and state file in one folder per project
    (`.meltano/run/EXTRACTOR/`), so two runs of one extractor name started at
    the same moment share them, and one may fail or be handed the other's
    state. A pipeline of its own extractor name has a folder of its own.
    """

    extractor: str
    loader: str
    schema: str

    @property
    def state_id(self) -> str:
        """Meltano's state id for `meltano run EXTRACTOR LOADER`."""
        return f"dev:{self.extractor}-to-{self.loader}"


FIRST = Pipeline("tap-mx-audience", "target-postgres", "tap_mx_audience")
SECOND = Pipeline("tap-mx-audience-b", "target-postgres-b", "tap_mx_audience_b")
PIPELINES = (FIRST, SECOND)
SECOND_PLUGINS: dict[str, list[dict[str, Any]]] = {
    "extractors": [{"name": SECOND.extractor, "inherit_from": FIRST.extractor}],
    "loaders": [
        {
            "name": SECOND.loader,
            "inherit_from": FIRST.loader,
            "config": {"default_target_schema": SECOND.schema},
        }
    ],
}


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


@dataclass
class Model:
    """What the test knows after each step, and what each target must hold."""

    connection: psycopg.Connection[Any]
    lists: list[dict[str, set[str]]] = field(default_factory=list)
    """Per step, the list of each audience every run of the step fetched."""
    served_at: list[dict[str, datetime.datetime]] = field(default_factory=list)
    """Per step, an instant T at which the log must say each audience had that list.

    T is the `fetched_at` of the step's run (its `audiences` row): a list that
    differs from the log's latest is recorded at its run's fetch time, to the
    millisecond (so at or before T), and one that does not stays current from
    its earlier record; the next step's list is fetched, so recorded, later.
    """
    whole: dict[Pipeline, int] = field(default_factory=dict)
    """Per pipeline, the step whose run its target holds whole (absent after a kill)."""

    def loaded(self, pipeline: Pipeline, name: str) -> LoadedAudience:
        """One audience in one pipeline's schema."""
        return LoadedAudience(self.connection, pipeline.schema, name, INSTITUTION)

    def schemas(self) -> set[str]:
        """The schemas any table was loaded into."""
        rows = self.connection.execute(
            "SELECT DISTINCT table_schema FROM information_schema.tables"
            " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
        return {row[0] for row in rows}

    def assert_exact(self, pipeline: Pipeline, steps: list[str]) -> None:
        """Every history property, in the pipeline's PostgreSQL schema."""
        last = self.whole[pipeline]
        for name in AUDIENCES:
            where = f"{pipeline.schema}, {name}, after steps {steps}"
            loaded = self.loaded(pipeline, name)
            assert loaded.current() == self.lists[last][name], where
            loaded.assert_history_consistent()
            for step in range(last + 1):
                served = self.lists[step][name]
                at = self.served_at[step][name]
                assert loaded.members_at(at) == served, f"{where}: step {step} at {at}"
            always = set.intersection(
                *(lists[name] for lists in self.lists[: last + 1])
            )
            stints = loaded.stints()
            assert {m for m in always if len(stints[m]) != 1} == set(), where


def _saved_singer_state(
    project: MeltanoProject, pipeline: Pipeline
) -> dict[str, Any] | None:
    run = project.command("state", "get", pipeline.state_id)
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


def _fetched_at(lines: list[bytes]) -> dict[str, datetime.datetime]:
    """Each audience's `fetched_at`, from the `audiences` records of a tap's output."""
    messages = [json.loads(line) for line in lines]
    return {
        m["record"]["id_or_slug"]: datetime.datetime.fromisoformat(
            m["record"]["fetched_at"]
        )
        for m in messages
        if m["type"] == "RECORD" and m["stream"] == "audiences"
    }


def _apply(
    project: MeltanoProject, pipeline: Pipeline, lines: list[bytes]
) -> list[dict[str, Any]]:
    """Feed lines to the pipeline's loader; the STATE values it confirmed.

    `meltano invoke` runs the loader without an extractor, so Meltano sets no
    MELTANO_EXTRACT__LOAD_SCHEMA, the loader's default schema: name it.
    """
    target = project.command(
        "invoke",
        pipeline.loader,
        stdin=b"".join(lines).decode(),
        env={"TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": pipeline.schema},
    )
    assert target.returncode == 0, target.output[-3000:]
    return [json.loads(line) for line in target.stdout.splitlines() if line.strip()]


def _tap_step(  # noqa: PLR0913, PLR0917 - the step, where it runs, and its dice
    action: str,
    pipeline: Pipeline,
    project: MeltanoProject,
    tmp_path: Path,
    config: dict[str, Any],
    rng: random.Random,
) -> dict[str, datetime.datetime]:
    """A kill or a lost STATE, played by running the tap and the loader apart."""
    lines = _tap_output(tmp_path, config, _saved_singer_state(project, pipeline))
    fetched_at = _fetched_at(lines)
    if action == "kill":
        lines = lines[: rng.randint(1, max(1, len(lines) - 1))]
    confirmed = _apply(project, pipeline, lines)
    if action == "kill" and confirmed:
        saved = project.command(
            "state",
            "set",
            "--force",
            pipeline.state_id,
            json.dumps({"singer_state": confirmed[-1]}),
        )
        assert saved.returncode == 0, saved.output
    return fetched_at


def _meltano_step(
    action: str, pipeline: Pipeline, project: MeltanoProject, model: Model
) -> dict[str, datetime.datetime]:
    """A completed `meltano run` of one pipeline, or of both at the same moment."""
    if action == "together":
        started = [project.start("run", p.extractor, p.loader) for p in PIPELINES]
        for done in map(finished, started):
            assert done.returncode == 0, done.output[-3000:]
        # Both fetched the same lists and either may have put them in the log,
        # each at its own fetch time: the later fetch is when the log surely
        # holds them.
        return {
            name: max(model.loaded(p, name).fetched_at() for p in PIPELINES)
            for name in AUDIENCES
        }
    if action == "state-clear":
        cleared = project.command("state", "clear", "--force", pipeline.state_id)
        assert cleared.returncode == 0, cleared.output
    refresh = ("--full-refresh",) if action == "full-refresh" else ()
    done = project.command("run", *refresh, pipeline.extractor, pipeline.loader)
    assert done.returncode == 0, done.output[-3000:]
    return {name: model.loaded(pipeline, name).fetched_at() for name in AUDIENCES}


def _plan(mode: str, rng: random.Random) -> list[tuple[str, Pipeline]]:
    """The steps: a first run, random ones, and a last run of every pipeline."""
    if mode == "full":
        middle = [rng.choice(FULL_MODE_ACTIONS) for _ in range(FULL_MODE_STEPS - 2)]
        return [("run", FIRST), *((a, FIRST) for a in middle), ("run", FIRST)]
    extra = CHANGES_MODE_STEPS - 2 - len(CHANGES_MODE_ACTIONS)
    middle = [*CHANGES_MODE_ACTIONS, *rng.choices(CHANGES_MODE_ACTIONS, k=extra)]
    rng.shuffle(middle)
    return [
        ("run", FIRST),
        *((action, rng.choice(PIPELINES)) for action in middle),
        ("together", FIRST),
    ]


@pytest.mark.parametrize("mode", ["full", "changes"])
@pytest.mark.parametrize("seed", [1, 2])
def test_members_and_stints_exact_after_any_sequence(  # noqa: PLR0913, PLR0917 - fixtures
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
    database = postgres.create_loader_database(f"model_{mode}_{seed}")
    settings = (
        {"snapshot_store": str(tmp_path / "snapshots")} if mode == "changes" else {}
    )
    config = emulator.tap_config(*AUDIENCES, **settings)
    env = {
        **tap_env(config),
        **postgres_env(postgres, database, LOADER_ROLE),
    }
    test_project = write_project(tmp_path / "project", plugins=SECOND_PLUGINS)
    project = meltano_plugins.isolated(tmp_path, **env).in_project(test_project)

    steps: list[str] = []
    with postgres.connect(database) as connection:
        model = Model(connection)
        for step, (action, pipeline) in enumerate(_plan(mode, rng)):
            for name in AUDIENCES:
                if step and rng.random() < 0.7:
                    emulator.patch(name, **world.change(name, rng))
            model.lists.append({name: emulator.members(name) for name in AUDIENCES})
            steps.append(
                action if action == "together" else f"{action} {pipeline.loader}"
            )
            if action in {"kill", "lost-state"}:
                model.served_at.append(
                    _tap_step(action, pipeline, project, tmp_path, config, rng)
                )
                if action == "kill":
                    model.whole.pop(pipeline, None)
                else:
                    model.whole[pipeline] = step
                continue
            model.served_at.append(_meltano_step(action, pipeline, project, model))
            for ran in PIPELINES if action == "together" else (pipeline,):
                model.whole[ran] = step
            assert model.schemas() <= {p.schema for p in PIPELINES}
            for checked in model.whole:
                if mode == "changes":
                    model.assert_exact(checked, steps)
                    continue
                assert {
                    name: model.loaded(checked, name).current_full()
                    for name in AUDIENCES
                } == model.lists[model.whole[checked]], f"after steps {steps}"
