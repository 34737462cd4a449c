"""An HTTP emulator of the MX Audience Service API, for tests, demos and benchmarks."""

from __future__ import annotations

from mx_audience_emulator.defaults import default_config
from mx_audience_emulator.faults import Fault
from mx_audience_emulator.jsonmodel import ConfigError
from mx_audience_emulator.members import expected_members, iter_member_ids, member_id
from mx_audience_emulator.model import Audience, Client, EmulatorConfig
from mx_audience_emulator.server import EmulatorServer

__all__ = [
    "Audience",
    "Client",
    "ConfigError",
    "EmulatorConfig",
    "EmulatorServer",
    "Fault",
    "default_config",
    "expected_members",
    "iter_member_ids",
    "member_id",
]
