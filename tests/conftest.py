"""Shared fixtures: one MX API emulator on 127.0.0.1 for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import fsspec
import pytest

from mx_audience_emulator.model import EmulatorConfig
from mx_audience_emulator.server import EmulatorServer
from tests.support.emulatoradmin import EmulatorAdmin
from tests.support.meltano_support import (
    MeltanoProject,
    PostgresCluster,
    postgres_cluster,
)
from tests.support.s3server import BUCKET, s3_server


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[EmulatorServer]:
    """A real HTTP emulator, started once; tests reconfigure it via its admin API."""
    with EmulatorServer(EmulatorConfig()) as server:
        yield server


@pytest.fixture
def emulator(emulator_server: EmulatorServer) -> EmulatorAdmin:
    """The emulator, emptied of audiences, faults and logged requests."""
    admin = EmulatorAdmin(emulator_server.url)
    admin.configure([])
    return admin


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 server (moto) for the session, with a bucket for snapshots.

    The standard AWS variables point at it, in this process and in the taps
    the tests start.
    """
    with s3_server() as endpoint:
        fs, _ = fsspec.core.url_to_fs(f"s3://{BUCKET}", skip_instance_cache=True)
        fs.mkdir(BUCKET)
        yield endpoint


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A real PostgreSQL cluster on a free port, for the whole session."""
    with postgres_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def meltano_plugins(tmp_path_factory: pytest.TempPathFactory) -> MeltanoProject:
    """The project's plugins, installed once per session (installs are slow)."""
    project = MeltanoProject(tmp_path_factory.mktemp("meltano-sys"))
    run = project.command(
        "install", "tap-mx-audience", "target-postgres", "target-csv", "target-jsonl"
    )
    assert run.returncode == 0, run.output
    return project
