"""A reader that goes away (`| head -1`, a target that dies): leave at once.

Writing to a closed pipe fails with EPIPE. The tap then has nobody to deliver
to: it must end straight away with one line, not finish downloads (or their
retries) for nobody, and not spill tracebacks from half-run generators.
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.support.emulatoradmin import EmulatorAdmin, audience
from tests.support.livetap import LiveTap, is_member_record

STALL_SECONDS = 30
QUICK_SECONDS = 5


def test_closed_stdout_ends_the_run_at_once_with_one_line(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    """The reader leaves during aud_big; aud_stalled, downloading ahead, is dropped."""
    emulator.configure([audience("aud_big", 200_000), audience("aud_stalled", 50)])
    emulator.fault("stall", id_or_slug="aud_stalled", delay_seconds=STALL_SECONDS)
    config = emulator.tap_config("aud_big", "aud_stalled", parallel_downloads=2)
    with LiveTap(tmp_path, config) as tap:
        tap.wait_for(is_member_record)
        time.sleep(0.2)
        elapsed = tap.close_stdout()
        stderr = tap.stderr()
    assert elapsed < QUICK_SECONDS
    assert tap.returncode == 1
    assert "Traceback" not in stderr
    assert "Exception ignored" not in stderr
    assert "unhandled error" not in stderr
    (error,) = [line for line in stderr.splitlines() if "| ERROR" in line]
    assert error.endswith(
        "| stdout was closed (the target stopped reading): "
        "the run ends here, without the audiences not yet delivered"
    )
