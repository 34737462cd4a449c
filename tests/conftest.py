"""Shared fixtures: one MX API emulator on 127.0.0.1 for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mx_audience_emulator.model import EmulatorConfig
from mx_audience_emulator.server import EmulatorServer
from tests.emulatoradmin import EmulatorAdmin


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
