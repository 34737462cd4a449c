"""Hostile or mistaken config: one ERROR line naming the setting, never its value.

Each bad value carries a marker, so a message quoting the value is caught.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.emulatoradmin import INSTITUTION, EmulatorAdmin, audience
from tests.support.tapdriver import run_tap

MARKER = "leakymarker"
OFFLINE = EmulatorAdmin("http://127.0.0.1:9")
AUDIENCE = {"id_or_slug": "aud_a", "institution_public_id": INSTITUTION}

BAD_SETTINGS: dict[str, tuple[dict[str, Any], str]] = {
    "client_id-missing": ({"client_id": None}, "'client_id' is required"),
    "client_id-empty": ({"client_id": ""}, "'client_id' must not be empty"),
    "client_secret-blank": ({"client_secret": "  "}, "'client_secret' must not be"),
    "api_url-no-scheme": ({"api_url": f"{MARKER}.example"}, "'api_url' must be"),
    "api_url-ftp": ({"api_url": f"ftp://{MARKER}.example"}, "'api_url' must be"),
    "api_url-no-host": ({"api_url": "https://"}, "'api_url' must be"),
    "api_url-query": (
        {"api_url": f"https://mx.example/?{MARKER}"},
        "'api_url' must not carry a query string",
    ),
    "api_url-http-not-loopback": (
        {"api_url": f"http://{MARKER}.example"},
        "'api_url' uses http:// to a host that is not this machine",
    ),
    "audiences-missing": ({"audiences": None}, "'audiences' is required"),
    "audiences-empty": ({"audiences": []}, "'audiences' must list at least one"),
    "audiences-not-a-list": ({"audiences": MARKER}, "'audiences' must be a list"),
    "audiences-duplicate": (
        {"audiences": [AUDIENCE, AUDIENCE]},
        "'audiences[1]' repeats",
    ),
    "audiences-unknown-key": (
        {"audiences": [{**AUDIENCE, "slug": MARKER}]},
        "'audiences[0]' has unknown key(s): slug",
    ),
    "audiences-no-institution": (
        {"audiences": [{"id_or_slug": MARKER}]},
        "'audiences[0].institution_public_id' is required",
    ),
    "id_or_slug-dot": (
        {"audiences": [{**AUDIENCE, "id_or_slug": "."}]},
        "'audiences[0].id_or_slug' must not be '.' or '..'",
    ),
    "id_or_slug-dot-dot": (
        {"audiences": [AUDIENCE, {**AUDIENCE, "id_or_slug": " .. "}]},
        "'audiences[1].id_or_slug' must not",
    ),
    "id_or_slug-spaces": (
        {"audiences": [{**AUDIENCE, "id_or_slug": f" {MARKER}"}]},
        "'audiences[0].id_or_slug' must not start or end with whitespace",
    ),
    "institution-spaces": (
        {"audiences": [{**AUDIENCE, "institution_public_id": f"{MARKER}\t"}]},
        "'audiences[0].institution_public_id' must not start or end with whitespace",
    ),
    "response_format-unknown": (
        {"response_format": f"xml-{MARKER}"},
        "'response_format' must be 'json' or 'csv'",
    ),
    "start_date-not-a-date": ({"start_date": MARKER}, "'start_date' must be a date"),
    "start_date-impossible": ({"start_date": "2024-13-45"}, "'start_date' must be"),
    "max_retries-out-of-range": ({"max_retries": 1000}, "'max_retries' must be from"),
    "timeout-a-string": (
        {"request_timeout_seconds": MARKER},
        "'request_timeout_seconds' must be a number",
    ),
    "snapshot_store_options-without-store": (
        {"snapshot_store_options": {"key": MARKER}},
        "'snapshot_store_options' needs 'snapshot_store'",
    ),
    "snapshot_store_options-not-an-object": (
        {"snapshot_store": "snapshots", "snapshot_store_options": [MARKER]},
        "'snapshot_store_options' must be an object",
    ),
    "history_retention_days-out-of-range": (
        {"history_retention_days": 0},
        "'history_retention_days' must be from 1 to 36500",
    ),
}


@pytest.mark.parametrize(
    ("changes", "message"), BAD_SETTINGS.values(), ids=BAD_SETTINGS.keys()
)
def test_bad_setting_is_one_line_naming_it(
    tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    config = {**OFFLINE.tap_config("aud_a"), **changes}
    run = run_tap(tmp_path, {k: v for k, v in config.items() if v is not None})
    assert f"Setting {message}" in run.only_error()
    assert MARKER not in run.stderr


def test_missing_setting_is_named_in_one_line(tmp_path: Path) -> None:
    config = OFFLINE.tap_config("aud_a")
    del config["api_url"]
    run = run_tap(tmp_path, config)
    assert run.returncode == 1
    assert run.error_lines() == [run.error_lines()[0]]
    assert run.error_lines()[0].endswith("Setting 'api_url' is required")


def test_api_url_with_trailing_slash_works(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure([audience("aud_a", 5)])
    config = emulator.tap_config("aud_a", api_url=f"{emulator.url}/")
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    assert sorted(run.member_ids()) == sorted(emulator.members("aud_a"))
    assert {r["path"] for r in emulator.requests()} == {
        "/api/token",
        "/api/v1/audience/aud_a/list",
    }


def test_api_url_path_prefix_is_kept_and_a_wrong_one_is_named(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure([audience("aud_a", 5)])
    config = emulator.tap_config("aud_a", api_url=f"{emulator.url}/gateway")
    run = run_tap(tmp_path, config)
    assert run.returncode == 1
    assert [r["path"] for r in emulator.requests()] == ["/gateway/api/token"]
    assert run.error_lines()[-1].endswith(
        f"Setting 'api_url' leads to no token endpoint (HTTP 404 from "
        f"{emulator.url}/gateway/api/token): it must be the base URL of your MX "
        "environment"
    )
    assert "Traceback" not in run.stderr
