"""Two days of a production runner: a fresh project each day, state and log on S3.

A scheduled container starts from nothing on disk: each day is a new project
directory written from the repo's meltano.yml, its plugins installed anew,
Meltano's state backend on S3 (`state_backend.uri: s3://...` with its
endpoint and keys) and the tap's snapshot store on the same S3 server (moto
on 127.0.0.1). Day 1's directory is deleted before day 2 starts, so day 2
knows day 1 only through S3: it must send only who joined or left, and
PostgreSQL must then hold the current members and stints exactly.
"""

from __future__ import annotations

import datetime
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import fsspec
import psycopg
import pytest

from tests.support.emulatoradmin import (
    INSTITUTION,
    EmulatorAdmin,
    audience,
)
from tests.support.meltano_support import (
    LOADER_ROLE,
    REPO_ROOT,
    MeltanoProject,
    PostgresCluster,
    postgres_env,
    tap_env,
    write_project,
)
from tests.support.pghistory import LoadedAudience
from tests.support.s3server import BUCKET, CREDENTIALS

pytestmark = pytest.mark.meltano

DAY1, DAY2 = "2026-11-20", "2026-11-21"
AUDIENCES = ("aud_p1", "aud_p2")
SCHEMA = "tap_mx_audience"
STATE_ID = "dev:tap-mx-audience-to-target-postgres"
SUMMARY = re.compile(r"Run summary: .*; records sent: (?P<sent>[^;]*);")


def _day(
    home: Path, env: dict[str, str], state_uri: str, endpoint: str
) -> dict[str, int]:
    """Write, install and run a project that never existed; the records it sent."""
    write_project(
        home,
        # Editable: uv rebuilds a local directory only when its pyproject.toml
        # changes, so a built install could run an older checkout's tap.
        extractor_pip_url=f"-e {REPO_ROOT}[s3]",
        state_backend={"uri": state_uri, "s3": {"endpoint_url": endpoint}},
    )
    project = MeltanoProject(home / ".meltano", env, home)
    installed = project.command("install", "tap-mx-audience", "target-postgres")
    assert installed.returncode == 0, installed.output[-3000:]
    run = project.command("run", "tap-mx-audience", "target-postgres")
    assert run.returncode == 0, run.output[-3000:]
    assert "Writing state to AWS S3" in run.output, run.output[-3000:]
    (summary,) = SUMMARY.findall(run.output)
    return {
        stream: int(count)
        for count, stream in (part.split() for part in summary.split(", "))
    }


def _written_since(
    connection: psycopg.Connection[Any], stream: str, since: datetime.datetime
) -> int:
    """Rows of a stream's table the loader wrote (inserted or updated) since then."""
    row = connection.execute(
        f"SELECT count(*) FROM {SCHEMA}.{stream}"  # noqa: S608 - test-controlled names
        " WHERE _sdc_batched_at >= %s",
        (since.replace(tzinfo=None),),
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_day_two_from_a_fresh_project_sends_only_the_changes(
    s3_endpoint: str,
    postgres: PostgresCluster,
    emulator: EmulatorAdmin,
    tmp_path: Path,
) -> None:
    emulator.configure(
        [
            audience("aud_p1", 300, updated_on=DAY1),
            audience("aud_p2", 120, updated_on=DAY1),
        ]
    )
    run_id = uuid.uuid4().hex[:12]
    state_bucket = f"meltano-state-{run_id}"
    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    fs.mkdir(state_bucket)
    store = f"s3://{BUCKET}/log-{run_id}"
    database = postgres.create_loader_database(f"runner_{run_id}")
    env = {
        **tap_env(emulator.tap_config(*AUDIENCES)),
        "TAP_MX_AUDIENCE_SNAPSHOT_STORE": store,
        **postgres_env(postgres, database, LOADER_ROLE),
        # Meltano's own settings for its state backend's keys (it uses its
        # endpoint setting only together with them).
        "MELTANO_STATE_BACKEND_S3_AWS_ACCESS_KEY_ID": CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "MELTANO_STATE_BACKEND_S3_AWS_SECRET_ACCESS_KEY": CREDENTIALS[
            "AWS_SECRET_ACCESS_KEY"
        ],
    }
    state_uri = f"s3://{state_bucket}/meltano"

    day1 = _day(tmp_path / "day1", env, state_uri, s3_endpoint)
    first = {a: emulator.members(a) for a in AUDIENCES}
    shutil.rmtree(tmp_path / "day1")
    assert fs.find(state_bucket) == [f"{state_bucket}/meltano/{STATE_ID}/state.json"]
    assert any(name.endswith(".table") for name in fs.find(store))
    with postgres.connect(database) as connection:
        day1_fetched = {
            a: LoadedAudience(connection, SCHEMA, a, INSTITUTION).fetched_at()
            for a in AUDIENCES
        }

    emulator.patch("aud_p1", offset=7, size=305, updated_on=DAY2)  # 7 leave, 12 join
    day2_start = datetime.datetime.now(datetime.UTC)
    day2 = _day(tmp_path / "day2", env, state_uri, s3_endpoint)

    assert day1 == {"audiences": 2, "audience_members": 420, "membership_periods": 420}
    assert day2 == {"audiences": 2, "audience_members": 19, "membership_periods": 19}
    with postgres.connect(database) as connection:
        for stream in ("audience_members", "membership_periods"):
            assert _written_since(connection, stream, day2_start) == 19
        for name in AUDIENCES:
            loaded = LoadedAudience(connection, SCHEMA, name, INSTITUTION)
            assert loaded.current() == emulator.members(name)
            loaded.assert_history_consistent()
            assert loaded.members_at(day1_fetched[name]) == first[name]
            assert loaded.members_at(loaded.fetched_at()) == emulator.members(name)
            stints = loaded.stints()
            assert set(stints) == first[name] | emulator.members(name)
            assert all(len(member_stints) == 1 for member_stints in stints.values())
