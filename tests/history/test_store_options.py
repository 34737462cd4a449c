"""`snapshot_store_options` reach the store; no secret and no bad value is printed.

The store is the real S3 server the tests start (moto), reached through s3fs
by the real tap.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import fsspec
import pytest

from tests.support.emulatoradmin import EmulatorAdmin, audience
from tests.support.s3server import BUCKET
from tests.support.tapdriver import TapRun, run_tap

DEBUG = {"TAP_MX_AUDIENCE_LOGLEVEL": "DEBUG"}
OLD, NEW = "2026-11-20", "2026-11-25"
MARKER = "optionvaluemarker"
# Secret-looking values only the options hold (moto takes any credentials).
ACCESS_KEY_ID = "AKIAOPTIONSKEY777777"
SECRETS = {
    "key": ACCESS_KEY_ID,
    "secret": "options-secret-access-key-never-printed",
    "token": "options-session-token-never-printed",
}
# The environment points nowhere: only the options lead to the store.
NOWHERE = {
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_ACCESS_KEY_ID": "AKIAENVIRONMENT00000",
    "AWS_SECRET_ACCESS_KEY": "environment-secret",
}


def _store() -> str:
    return f"s3://{BUCKET}/{uuid.uuid4().hex}"


def _assert_prints_no_secret(*runs: TapRun) -> None:
    for run in runs:
        for output in (run.stdout, run.stderr):
            for secret in SECRETS.values():
                assert secret not in output


def test_options_reach_the_store_and_no_secret_is_printed_at_debug(
    emulator: EmulatorAdmin, tmp_path: Path, s3_endpoint: str
) -> None:
    emulator.configure([audience("aud_a", 40, updated_on=OLD)])
    store = _store()
    options = {
        **SECRETS,
        "endpoint_url": s3_endpoint,
        "client_kwargs": {"region_name": "us-east-1"},
    }
    config = emulator.tap_config(
        "aud_a", snapshot_store=store, snapshot_store_options=options
    )
    env = {**NOWHERE, **DEBUG}
    first = run_tap(tmp_path, config, env=env)
    assert first.returncode == 0, first.stderr
    emulator.patch("aud_a", offset=4, size=43, updated_on=NEW)
    second = run_tap(tmp_path, config, state=first.last_state, env=env)
    assert second.returncode == 0, second.stderr
    assert len(second.records("audience_members")) == 7 + 4
    assert "| DEBUG" in second.stderr
    fs, root = fsspec.core.url_to_fs(store, skip_instance_cache=True)
    assert len(fs.find(root)) == 3  # two tables and a closed segment
    _assert_prints_no_secret(first, second)


REFUSED = "is refused by the s3 filesystem"
BAD_OPTIONS: dict[str, tuple[dict[str, Any], str, str]] = {
    "unknown-key": (
        {**SECRETS, "not_an_option": MARKER},
        "not_an_option",
        f"{REFUSED} (TypeError)",
    ),
    "wrong-type": (
        {**SECRETS, "endpoint_url": 12345},
        "endpoint_url",
        f"{REFUSED} (TypeError)",
    ),
    "unknown-profile": ({"profile": MARKER}, "profile", f"{REFUSED} (ProfileNotFound)"),
    "kwargs-not-an-object": (
        {**SECRETS, "s3_additional_kwargs": MARKER},
        "s3_additional_kwargs",
        "must be an object",
    ),
}


@pytest.mark.parametrize(
    ("options", "key", "problem"), BAD_OPTIONS.values(), ids=BAD_OPTIONS.keys()
)
@pytest.mark.usefixtures("s3_endpoint")
def test_a_bad_option_is_one_line_naming_it_before_any_request(
    emulator: EmulatorAdmin,
    tmp_path: Path,
    options: dict[str, Any],
    key: str,
    problem: str,
) -> None:
    emulator.configure([audience("aud_a", 3)])
    config = emulator.tap_config(
        "aud_a", snapshot_store=_store(), snapshot_store_options=options
    )
    run = run_tap(tmp_path, config, env=DEBUG)
    assert f"Setting 'snapshot_store_options.{key}' {problem}" in run.only_error()
    assert MARKER not in run.stderr
    assert "12345" not in run.stderr
    assert emulator.requests() == []
    _assert_prints_no_secret(run)
