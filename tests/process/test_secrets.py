"""Neither the client secret nor a bearer token is ever printed, even at DEBUG.

The emulator does not hand out the tokens it issued, so tokens are caught by
their shape: every JWT starts with the base64 of `{"`, which is `eyJ`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.emulatoradmin import CLIENT_SECRET, EmulatorAdmin, audience
from tests.support.faultcases import MATRIX, FaultCase
from tests.support.tapdriver import TapRun, run_tap

DEBUG = {"TAP_MX_AUDIENCE_LOGLEVEL": "DEBUG"}
JWT_SHAPE = re.compile(r"eyJ[\w-]*\.[\w-]+")
LEAKY_SECRET = "leaky-secret-marker-31337"  # noqa: S105 - a test credential


def assert_prints_no_secret(run: TapRun, secret: str = CLIENT_SECRET) -> None:
    """Neither stream holds the secret or anything shaped like a JWT."""
    for output in (run.stdout, run.stderr):
        assert secret not in output
        assert not JWT_SHAPE.search(output)


@pytest.mark.parametrize("case", MATRIX.values(), ids=MATRIX.keys())
def test_fault_matrix_at_debug_prints_no_secret_or_token(
    emulator: EmulatorAdmin, tmp_path: Path, case: FaultCase
) -> None:
    run = case.run(emulator, tmp_path, **DEBUG)
    assert "| DEBUG" in run.stderr
    assert_prints_no_secret(run)


@pytest.mark.parametrize(
    "secret",
    [12345, [LEAKY_SECRET], {"value": LEAKY_SECRET}, True],
    ids=["number", "list", "object", "boolean"],
)
def test_secret_of_the_wrong_type_is_named_not_printed(
    tmp_path: Path,
    secret: Any,  # noqa: ANN401 - any JSON value
) -> None:
    config = EmulatorAdmin("http://127.0.0.1:9").tap_config("aud_a")
    run = run_tap(tmp_path, {**config, "client_secret": secret}, env=DEBUG)
    assert run.returncode == 1
    assert run.error_lines() == [run.error_lines()[0]]
    assert run.error_lines()[0].endswith("Setting 'client_secret' must be a string")
    assert_prints_no_secret(run, LEAKY_SECRET)
    assert "12345" not in run.stderr


def test_rejected_secret_is_not_printed_at_debug(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure([audience("aud_a", 3)])
    config = emulator.tap_config("aud_a", client_secret=LEAKY_SECRET)
    run = run_tap(tmp_path, config, env=DEBUG)
    assert run.returncode == 1
    assert "MX rejected the client_id/client_secret" in run.error_lines()[-1]
    assert_prints_no_secret(run, LEAKY_SECRET)


def test_snapshot_store_options_are_not_printed_at_debug(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure([audience("aud_a", 3)])
    config = emulator.tap_config(
        "aud_a",
        snapshot_store=str(tmp_path / "snapshots"),
        snapshot_store_options={"key": LEAKY_SECRET, "client_kwargs": {}},
    )
    run = run_tap(tmp_path, config, env=DEBUG)
    assert run.returncode == 0, run.stderr
    assert_prints_no_secret(run, LEAKY_SECRET)
