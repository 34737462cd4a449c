"""`--test`: a normal run limited in records, ending as a normal run ends.

singer-sdk runs `--test` outside `Tap.invoke`, so without care it skips the
tap's own ending: failed audiences exit 0, errors come with a traceback, and
the SDK's own dry-run stop is logged as "An unhandled error occurred".
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.support.emulatoradmin import INSTITUTION, EmulatorAdmin, audience
from tests.support.tapdriver import TapRun, run_tap

STALL_SECONDS = 30
QUICK_SECONDS = 10


def _connection_test(tmp_path: Path, config: dict[str, object]) -> TapRun:
    return run_tap(tmp_path, config, args=("--test",), timeout=120)


def test_connection_test_that_passes_logs_no_error(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure([audience("aud_a", 30), audience("aud_b", 20)])
    run = _connection_test(tmp_path, emulator.tap_config("aud_a", "aud_b"))
    assert run.returncode == 0, run.stderr
    assert run.error_lines() == []
    assert "unhandled error" not in run.stderr
    assert '"type":"RECORD"' in run.stdout


def test_connection_test_fails_for_an_unknown_audience(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure([audience("aud_a", 30)])
    run = _connection_test(tmp_path, emulator.tap_config("no_such_audience", "aud_a"))
    assert run.returncode == 1
    assert "unhandled error" not in run.stderr
    assert "Traceback" not in run.stderr
    *_, last = run.error_lines()
    assert last.endswith(
        "| 1 audience(s) failed: audience 'no_such_audience' "
        f"(institution '{INSTITUTION}'): not found (HTTP 404 from GET "
        f"{emulator.url}/api/v1/audience/no_such_audience/list"
        f"?institution_public_id={INSTITUTION}): "
        "check its id_or_slug and institution_public_id"
    )


def test_connection_test_abandons_the_downloads_ahead(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    """`--test` stops after two audiences; a third, stalled, must not hold it up."""
    emulator.configure(
        [audience("aud_a", 30), audience("aud_b", 20), audience("aud_c", 20)]
    )
    emulator.fault("stall", id_or_slug="aud_c", delay_seconds=STALL_SECONDS)
    config = emulator.tap_config("aud_a", "aud_b", "aud_c", parallel_downloads=3)
    started = time.monotonic()
    run = _connection_test(tmp_path, config)
    elapsed = time.monotonic() - started
    assert run.returncode == 0, run.stderr
    assert elapsed < QUICK_SECONDS


def test_connection_test_sends_one_member_record(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    """`--test` caps each stream at one record, so the fast path stands aside."""
    emulator.configure([audience("aud_a", 3000)])
    run = run_tap(tmp_path, emulator.tap_config("aud_a"), args=("--test",))
    assert run.returncode == 0, run.stderr
    records = [
        json.loads(line)
        for line in run.stdout.splitlines()
        if '"type":"RECORD"' in line and '"audience_members"' in line
    ]
    assert len(records) == 1


@pytest.mark.parametrize("args", [(), ("--test",)], ids=["sync", "connection-test"])
def test_rejected_credentials_are_one_line_without_the_secret(
    emulator: EmulatorAdmin, tmp_path: Path, args: tuple[str, ...]
) -> None:
    emulator.configure([audience("aud_a", 3)])
    config = emulator.tap_config("aud_a", client_secret="wrong-secret-value-123")  # noqa: S106
    run = run_tap(tmp_path, config, args=args)
    assert run.returncode == 1
    assert len(run.error_lines()) == 1
    assert run.error_lines()[0].endswith(
        "MX rejected the client_id/client_secret (HTTP 401 from "
        f"{emulator.url}/api/token): check the 'client_id' and 'client_secret' settings"
    )
    assert "wrong-secret-value-123" not in run.stderr + run.stdout
    assert "Traceback" not in run.stderr
