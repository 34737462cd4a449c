"""The README's PostgreSQL queries, run as written on what `meltano run` loaded.

Three runs of a known scenario into target-postgres (upsert), in changes mode
and in full mode: members join and leave on known runs, and some come back on
the same list date. Two institutions have an audience with the same slug, and
a third audience shares member ids with both, so a query that forgot either
filter answers wrongly. The queries run in a session whose time zone is not
UTC, as an analyst's may be; the loader's is UTC, as the README advises.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest

from mx_audience_emulator.server import EmulatorServer
from tests.support.emulatoradmin import EmulatorAdmin
from tests.support.meltano_support import (
    LOADER_ROLE,
    MeltanoProject,
    PostgresCluster,
    postgres_env,
    tap_env,
)
from tests.support.pghistory import LoadedAudience

pytestmark = pytest.mark.meltano

Audience = tuple[str, str]
"""An audience as configured: (id_or_slug, institution_public_id)."""

DAY1, DAY2 = datetime.date(2026, 11, 20), datetime.date(2026, 11, 21)
GOLD_A, GOLD_B, SILVER_A = ("gold", "INST_A"), ("gold", "INST_B"), ("silver", "INST_A")
EMULATOR_IDS = {GOLD_A: "aud_gold_a", GOLD_B: "aud_gold_b", SILVER_A: "aud_silver_a"}
# Each audience's members are indices offset..offset+size-1 of one seed, run
# after run. Run 2: three leave gold at INST_A and three join; two leave gold
# at INST_B and two join; two join silver. Run 3: the three who left gold at
# INST_A come back on the same list date; two leave gold at INST_B.
WINDOWS: dict[Audience, tuple[tuple[int, int, datetime.date], ...]] = {
    GOLD_A: ((0, 10, DAY1), (3, 10, DAY2), (0, 13, DAY2)),
    GOLD_B: ((5, 10, DAY1), (7, 10, DAY2), (7, 8, DAY2)),
    SILVER_A: ((0, 20, DAY1), (0, 22, DAY2), (0, 22, DAY2)),
}
SCHEMA = "tap_mx_audience"


@dataclass
class Run:
    """One run as the test knows it: the lists served, and what was loaded."""

    lists: dict[Audience, set[str]]
    fetched_at: dict[Audience, datetime.datetime]
    current: dict[str, dict[Audience, set[str]]] = field(default_factory=dict)
    """Each mode's README current-members query, right after the run."""

    def stint_time(self, audience: Audience) -> datetime.datetime:
        """The `joined_at`/`left_at` of what the run changed: its fetch, to the ms."""
        fetched = self.fetched_at[audience]
        return fetched.replace(microsecond=fetched.microsecond // 1000 * 1000)


@dataclass
class Loaded:
    """The runs, an instant before each and after the last, and the two databases."""

    runs: list[Run]
    marks: list[datetime.datetime]
    changes: psycopg.Connection[Any]
    full: psycopg.Connection[Any]

    def audience(self, audience: Audience) -> LoadedAudience:
        """One audience in the changes-mode database."""
        return LoadedAudience(self.changes, SCHEMA, *audience)


def _emulator_audience(audience: Audience, run: int) -> dict[str, Any]:
    offset, size, updated_on = WINDOWS[audience][run]
    return {
        "audience_id": EMULATOR_IDS[audience],
        "institution_id": audience[1],
        "slug": audience[0],
        "seed": "one-seed-for-all",  # the same member ids in every audience
        "offset": offset,
        "size": size,
        "updated_on": updated_on.isoformat(),
    }


@pytest.fixture(scope="module")
def loaded(
    meltano_plugins: MeltanoProject,
    postgres: PostgresCluster,
    emulator_server: EmulatorServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Loaded]:
    """Three runs in each mode, each mode into a database of its own."""
    work = tmp_path_factory.mktemp("readme-queries")
    emulator = EmulatorAdmin(emulator_server.url)
    emulator.configure([_emulator_audience(a, 0) for a in WINDOWS])
    configured = [{"id_or_slug": a[0], "institution_public_id": a[1]} for a in WINDOWS]
    store = {"TAP_MX_AUDIENCE_SNAPSHOT_STORE": str(work / "log")}
    projects = {
        mode: meltano_plugins.isolated(
            work,
            **tap_env({**emulator.tap_config(), "audiences": configured}),
            **postgres_env(
                postgres, postgres.create_loader_database(f"readme_{mode}"), LOADER_ROLE
            ),
            **(store if mode == "changes" else {}),
            MELTANO_DATABASE_URI=f"sqlite:///{work}/{mode}.db",
        )
        for mode in ("changes", "full")
    }
    with (
        postgres.connect("readme_changes") as changes,
        postgres.connect("readme_full") as full,
    ):
        loaded = Loaded([], [], changes, full)
        for run in range(len(WINDOWS[GOLD_A])):
            for audience in WINDOWS:
                if run:
                    offset, size, updated_on = WINDOWS[audience][run]
                    emulator.patch(
                        EMULATOR_IDS[audience],
                        offset=offset,
                        size=size,
                        updated_on=updated_on.isoformat(),
                    )
            loaded.marks.append(datetime.datetime.now(datetime.UTC))
            for mode, project in projects.items():
                done = project.command("run", "tap-mx-audience", "target-postgres")
                assert done.returncode == 0, (mode, done.output[-3000:])
            loaded.runs.append(
                Run(
                    {a: emulator.members(EMULATOR_IDS[a]) for a in WINDOWS},
                    {a: loaded.audience(a).fetched_at() for a in WINDOWS},
                    {
                        "changes": {a: loaded.audience(a).current() for a in WINDOWS},
                        "full": {
                            a: LoadedAudience(full, SCHEMA, *a).current_full()
                            for a in WINDOWS
                        },
                    },
                )
            )
        loaded.marks.append(datetime.datetime.now(datetime.UTC))
        yield loaded


@pytest.mark.parametrize("mode", ["changes", "full"])
def test_current_members_are_the_latest_list_after_every_run(
    loaded: Loaded, mode: str
) -> None:
    for run in loaded.runs:
        assert run.current[mode] == run.lists


def test_members_at_a_point_in_time_are_the_list_served_then(loaded: Loaded) -> None:
    for audience in WINDOWS:
        members_at = loaded.audience(audience).members_at
        assert members_at(loaded.marks[0]) == set()
        for number, run in enumerate(loaded.runs):
            # The list is the members from its fetch until the next run's.
            assert members_at(run.fetched_at[audience]) == run.lists[audience]
            assert members_at(loaded.marks[number + 1]) == run.lists[audience]


def test_who_joined_in_a_window_is_who_each_run_added(loaded: Loaded) -> None:
    for audience in WINDOWS:
        joined = loaded.audience(audience).joined
        before: set[str] = set()
        for number, run in enumerate(loaded.runs):
            on = WINDOWS[audience][number][2]
            assert joined(loaded.marks[number], loaded.marks[number + 1]) == [
                (member, run.stint_time(audience), on)
                for member in sorted(run.lists[audience] - before)
            ]
            before = run.lists[audience]


def test_who_left_in_a_window_is_who_each_run_dropped(loaded: Loaded) -> None:
    for audience in WINDOWS:
        left = loaded.audience(audience).left
        before: set[str] = set()
        for number, run in enumerate(loaded.runs):
            on = WINDOWS[audience][number][2]
            assert left(loaded.marks[number], loaded.marks[number + 1]) == [
                (member, run.stint_time(audience), on)
                for member in sorted(before - run.lists[audience])
            ]
            before = run.lists[audience]


def test_who_came_back_within_a_window_is_in_both_lists_once_per_stint(
    loaded: Loaded,
) -> None:
    first, second, third = (run.lists[GOLD_A] for run in loaded.runs)
    came_back = (first - second) & third
    assert len(came_back) == 3
    gold = loaded.audience(GOLD_A)
    everything = (loaded.marks[0], loaded.marks[-1])

    joined = [member for member, _, _ in gold.joined(*everything)]
    left = [member for member, _, _ in gold.left(*everything)]

    assert sorted(m for m in joined if m in came_back) == sorted([*came_back] * 2)
    assert sorted(left) == sorted(came_back)
    gold.assert_history_consistent()
