"""Client-credentials tokens: where they are read from and when they are renewed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.emulatoradmin import EmulatorAdmin, audience
from tests.support.tapdriver import run_tap


@pytest.mark.parametrize(
    "token_settings",
    [
        {"token_key": "access_token"},
        {"token_key": "token", "include_exp_claim": False},
        {"include_exp_claim": False, "include_expires_in": False},
    ],
    ids=["access_token+exp", "token+expires_in", "no-expiry-given"],
)
def test_token_response_variants(
    emulator: EmulatorAdmin, tmp_path: Path, token_settings: dict[str, object]
) -> None:
    emulator.configure([audience("aud_a", 5)], **token_settings)
    run = run_tap(tmp_path, emulator.tap_config("aud_a"))
    assert run.returncode == 0, run.stderr
    assert sorted(run.member_ids()) == sorted(emulator.members("aud_a"))


def test_token_is_renewed_before_it_expires(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    """A 2-second token, 9 requests 0.4 s apart: renewed ahead, never sent expired."""
    names = [f"aud_{n}" for n in range(9)]
    emulator.configure(
        [audience(name, 3) for name in names],
        token_lifetime_seconds=2,
        latency_seconds=0.4,
    )
    run = run_tap(tmp_path, emulator.tap_config(*names, parallel_downloads=1))
    assert run.returncode == 0, run.stderr
    log = emulator.requests()
    list_requests = [r for r in log if r["endpoint"] == "list"]
    assert len(list_requests) == len(names)
    assert not any(r["token_expired"] for r in list_requests)
    assert all(r["status"] == 200 for r in list_requests)
    assert sum(r["endpoint"] == "token" for r in log) >= 2
