"""`meltano run` of the repo's meltano.yml into real PostgreSQL and CSV files.

This is the path users take; it checks what lands in the target, what the
documented current-membership SQL returns, and that Meltano's stored state
keeps unchanged audiences from being sent again.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.emulatoradmin import (
    INSTITUTION,
    EmulatorAdmin,
    audience,
)
from tests.support.meltano_support import (
    MeltanoProject,
    PostgresCluster,
    csv_rows,
    postgres_env,
    readme_query_for,
    tap_env,
)

pytestmark = pytest.mark.meltano

AUDIENCES = [
    audience("aud_gold", 1200, slug="gold-members", updated_on="2026-11-20"),
    audience("aud_new", 350, updated_on="2026-11-21"),
    audience("aud_churn", 75, updated_on="2026-11-19"),
]
CONFIGURED = {
    "aud_gold": "gold-members",
    "aud_new": "aud_new",
    "aud_churn": "aud_churn",
}
POSTGRES_STATE_ID = "dev:tap-mx-audience-to-target-postgres"

MemberRow = tuple[str, str, str, str]


def _current_members(cluster: PostgresCluster, db: str) -> list[tuple[str, str]]:
    """(audience_id, member_id) by the README's full-mode query, per audience."""
    return [
        (audience_id, str(row[0]))
        for audience_id, slug in CONFIGURED.items()
        for row in _rows(
            cluster,
            db,
            readme_query_for("-- Full mode: current members", slug, INSTITUTION),
        )
    ]


def _project(
    plugins: MeltanoProject, emulator: EmulatorAdmin, work_dir: Path, **env: str
) -> MeltanoProject:
    return plugins.isolated(
        work_dir, **tap_env(emulator.tap_config(*CONFIGURED.values())), **env
    )


def _expected_members(emulator: EmulatorAdmin) -> set[MemberRow]:
    return {
        (definition["audience_id"], INSTITUTION, member, definition["updated_on"])
        for definition in AUDIENCES
        for member in emulator.members(definition["audience_id"])
    }


def _expected_audiences() -> set[tuple[str, str, str, int, str]]:
    return {
        (
            definition["audience_id"],
            INSTITUTION,
            CONFIGURED[definition["audience_id"]],
            definition["size"],
            definition["updated_on"],
        )
        for definition in AUDIENCES
    }


def _rows(cluster: PostgresCluster, database: str, sql: str) -> list[tuple[Any, ...]]:
    with cluster.connect(database) as connection:
        return [tuple(map(_plain, row)) for row in connection.execute(sql).fetchall()]


def _plain(value: object) -> object:
    """Dates as ISO strings, so rows compare with the emulator's values."""
    isoformat = getattr(value, "isoformat", None)
    return isoformat() if callable(isoformat) else value


def _loaded_members(cluster: PostgresCluster, database: str) -> list[MemberRow]:
    return [
        (str(a), str(i), str(m), str(u))
        for a, i, m, u in _rows(
            cluster,
            database,
            "SELECT audience_id, institution_id, member_id, updated_on "
            "FROM tap_mx_audience.audience_members",
        )
    ]


def _loaded_audiences(cluster: PostgresCluster, database: str) -> list[tuple[Any, ...]]:
    return _rows(
        cluster,
        database,
        "SELECT audience_id, institution_id, id_or_slug, member_count, updated_on "
        "FROM tap_mx_audience.audiences",
    )


def _send_marks(cluster: PostgresCluster, database: str) -> dict[str, tuple[Any, ...]]:
    """Per audience: rows and the latest load time; a re-send moves the latter."""
    rows = _rows(
        cluster,
        database,
        "SELECT audience_id, count(*), max(_sdc_batched_at) "
        "FROM tap_mx_audience.audience_members GROUP BY audience_id",
    )
    return {str(row[0]): row[1:] for row in rows}


def _bookmarks(state: dict[str, Any]) -> dict[str, tuple[str, str]]:
    partitions = state["singer_state"]["bookmarks"]["audience_members"]["partitions"]
    return {
        p["context"]["id_or_slug"]: (p["replication_key_value"], p["fingerprint"])
        for p in partitions
    }


def test_run_into_postgres_then_changes_send_only_the_changed_audience(
    meltano_plugins: MeltanoProject,
    postgres: PostgresCluster,
    emulator: EmulatorAdmin,
    tmp_path: Path,
) -> None:
    emulator.configure(AUDIENCES)
    database = postgres.create_database("incremental")
    project = _project(
        meltano_plugins, emulator, tmp_path, **postgres_env(postgres, database)
    )

    first = project.command("run", "tap-mx-audience", "target-postgres")
    assert first.returncode == 0, first.output
    members = _loaded_members(postgres, database)
    assert len(members) == 1200 + 350 + 75
    assert set(members) == _expected_members(emulator)
    assert set(_loaded_audiences(postgres, database)) == _expected_audiences()
    assert len(_loaded_audiences(postgres, database)) == 3
    marks = _send_marks(postgres, database)
    bookmarks = _bookmarks(project.state(POSTGRES_STATE_ID))
    assert {slug: date for slug, (date, _) in bookmarks.items()} == {
        "gold-members": "2026-11-20",
        "aud_new": "2026-11-21",
        "aud_churn": "2026-11-19",
    }

    before = emulator.members("aud_gold")
    emulator.patch("aud_gold", offset=10, size=1205, updated_on="2026-11-28")
    after = emulator.members("aud_gold")
    assert len(before - after) == 10
    assert len(after - before) == 15

    second = project.command("run", "tap-mx-audience", "target-postgres")
    assert second.returncode == 0, second.output
    expected_current = {("aud_gold", member) for member in after} | {
        (definition["audience_id"], member)
        for definition in AUDIENCES[1:]
        for member in emulator.members(definition["audience_id"])
    }
    current = _current_members(postgres, database)
    assert set(current) == expected_current
    assert len(current) == 1205 + 350 + 75
    members = _loaded_members(postgres, database)
    keys = [(a, i, m) for a, i, m, _ in members]
    assert len(keys) == len(set(keys)), "duplicate primary keys"
    gold = {m: u for a, _, m, u in members if a == "aud_gold"}
    assert set(gold) == before | after
    assert {m for m, u in gold.items() if u == "2026-11-28"} == after
    assert {m for m, u in gold.items() if u == "2026-11-20"} == before - after

    new_marks = _send_marks(postgres, database)
    assert new_marks["aud_new"] == marks["aud_new"]
    assert new_marks["aud_churn"] == marks["aud_churn"]
    assert new_marks["aud_gold"] != marks["aud_gold"]
    new_bookmarks = _bookmarks(project.state(POSTGRES_STATE_ID))
    assert new_bookmarks["gold-members"][0] == "2026-11-28"
    assert new_bookmarks["gold-members"][1] != bookmarks["gold-members"][1]
    assert new_bookmarks["aud_new"] == bookmarks["aud_new"]
    assert new_bookmarks["aud_churn"] == bookmarks["aud_churn"]
    assert ("aud_gold", INSTITUTION, "gold-members", 1205, "2026-11-28") in set(
        _loaded_audiences(postgres, database)
    )


def test_run_into_csv_writes_every_member(
    meltano_plugins: MeltanoProject, emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure(AUDIENCES)
    output = tmp_path / "csv"
    project = _project(
        meltano_plugins, emulator, tmp_path, TARGET_CSV_OUTPUT_PATH=str(output)
    )

    run = project.command("run", "tap-mx-audience", "target-csv")
    assert run.returncode == 0, run.output
    members = [
        (r["audience_id"], r["institution_id"], r["member_id"], r["updated_on"])
        for r in csv_rows(output, "audience_members")
    ]
    assert len(members) == 1200 + 350 + 75
    assert set(members) == _expected_members(emulator)
    audiences = [
        (
            r["audience_id"],
            r["institution_id"],
            r["id_or_slug"],
            int(r["member_count"]),
            r["updated_on"],
        )
        for r in csv_rows(output, "audiences")
    ]
    assert sorted(audiences) == sorted(_expected_audiences())


def test_batch_run_into_postgres_gives_the_same_tables(
    meltano_plugins: MeltanoProject,
    postgres: PostgresCluster,
    emulator: EmulatorAdmin,
    tmp_path: Path,
) -> None:
    emulator.configure(AUDIENCES)
    database = postgres.create_database("batch")
    batch_dir = tmp_path / "batch"
    batch_dir.mkdir()
    batch_config = {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": batch_dir.as_uri(), "prefix": "mx-"},
    }
    project = _project(
        meltano_plugins,
        emulator,
        tmp_path,
        TAP_MX_AUDIENCE_BATCH_CONFIG=json.dumps(batch_config),
        **postgres_env(postgres, database),
    )

    run = project.command("run", "tap-mx-audience", "target-postgres")
    assert run.returncode == 0, run.output
    batch_files = sorted(batch_dir.glob("mx-*.json.gz"))
    assert batch_files, "the tap wrote no BATCH files"
    with gzip.open(batch_files[0], "rt") as first_file:
        assert json.loads(first_file.readline())["institution_id"] == INSTITUTION
    members = _loaded_members(postgres, database)
    assert len(members) == 1200 + 350 + 75
    assert set(members) == _expected_members(emulator)
    assert sorted(_loaded_audiences(postgres, database)) == sorted(
        _expected_audiences()
    )
