"""The command line users and Meltano call: discovery, about, config from env."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.emulatoradmin import INSTITUTION, EmulatorAdmin, audience
from tests.support.tapdriver import run_tap


def test_discover_lists_both_streams_without_contacting_the_api(
    tmp_path: Path,
) -> None:
    config = EmulatorAdmin("http://127.0.0.1:9").tap_config("aud_a")
    run = run_tap(tmp_path, config, args=("--discover",))
    assert run.returncode == 0, run.stderr
    streams = {s["tap_stream_id"]: s for s in json.loads(run.stdout)["streams"]}
    members = streams["audience_members"]
    assert members["key_properties"] == [
        "id_or_slug",
        "institution_public_id",
        "member_id",
    ]
    assert members["replication_key"] == "updated_on"
    assert streams["audiences"]["key_properties"] == [
        "id_or_slug",
        "institution_public_id",
    ]


def test_about_lists_every_setting_and_marks_only_the_secret(tmp_path: Path) -> None:
    run = run_tap(tmp_path, {}, args=("--about", "--format", "json"))
    about = json.loads(run.stdout)
    properties = about["settings"]["properties"]
    assert {"client_id", "client_secret", "api_url", "audiences"} <= set(
        about["settings"]["required"]
    )
    secrets = {name for name, spec in properties.items() if spec.get("secret")}
    assert secrets == {"client_secret", "snapshot_store_options"}


def test_config_from_environment(emulator: EmulatorAdmin, tmp_path: Path) -> None:
    emulator.configure([audience("aud_env", 9)])
    config = emulator.tap_config("aud_env")
    env = {
        "TAP_MX_AUDIENCE_CLIENT_ID": config["client_id"],
        "TAP_MX_AUDIENCE_CLIENT_SECRET": config["client_secret"],
        "TAP_MX_AUDIENCE_API_URL": config["api_url"],
        "TAP_MX_AUDIENCE_AUDIENCES": json.dumps(
            [{"id_or_slug": "aud_env", "institution_public_id": INSTITUTION}]
        ),
    }
    run = run_tap(tmp_path, {}, args=("--config", "ENV"), env=env)
    assert run.returncode == 0, run.stderr
    assert sorted(run.member_ids()) == sorted(emulator.members("aud_env"))


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


def test_unknown_audience_names_it_and_the_status(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure([audience("aud_a", 3)])
    run = run_tap(tmp_path, emulator.tap_config("aud_a", "no_such_audience"))
    assert run.returncode == 1
    assert sorted(run.member_ids("aud_a")) == sorted(emulator.members("aud_a"))
    failure = next(line for line in run.error_lines() if "no_such_audience" in line)
    assert f"audience 'no_such_audience' (institution '{INSTITUTION}')" in failure
    assert "HTTP 404" in failure


def test_unreachable_api_url_is_a_clear_error(tmp_path: Path) -> None:
    config = EmulatorAdmin("http://127.0.0.1:9").tap_config("aud_a", max_retries=0)
    run = run_tap(tmp_path, config)
    assert run.returncode == 1
    [error] = run.error_lines()
    assert "could not reach the token endpoint http://127.0.0.1:9/api/token" in error
    assert "(gave up after 1 try)" in error
    assert "Traceback" not in run.stderr


def test_missing_setting_is_named_in_one_line(tmp_path: Path) -> None:
    config = EmulatorAdmin("http://127.0.0.1:9").tap_config("aud_a")
    del config["api_url"]
    run = run_tap(tmp_path, config)
    assert run.returncode == 1
    assert run.error_lines() == [run.error_lines()[0]]
    assert run.error_lines()[0].endswith("Setting 'api_url' is required")


def test_decimal_settings_are_accepted(emulator: EmulatorAdmin, tmp_path: Path) -> None:
    """singer-sdk reads `60.0` from a config file as a Decimal."""
    emulator.configure([audience("aud_a", 4)])
    config = emulator.tap_config(
        "aud_a", request_timeout_seconds=60.0, max_retry_after_seconds=2.5
    )
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    assert len(run.member_ids()) == 4


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
