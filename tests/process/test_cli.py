"""The commands Meltano calls before a sync: discovery and about."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.emulatoradmin import EmulatorAdmin
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
