"""Config as users pass it: a file, the environment, typos, and what `--about` says.

Values that must never be printed carry a marker, so a message quoting one is
caught.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import singer_sdk
from singer_sdk.authenticators import APIAuthenticatorBase
from singer_sdk.streams import RESTStream

from tap_mx_audience.api.auth import MxAudienceAuthenticator
from tap_mx_audience.tap import TapMxAudience
from tests.support.emulatoradmin import INSTITUTION, EmulatorAdmin, audience
from tests.support.tapdriver import run_tap

MARKER = "leakymarker"
ENV_PREFIX = "TAP_MX_AUDIENCE_"


def _environment(config: dict[str, object]) -> dict[str, str]:
    """A config as `TAP_MX_AUDIENCE_*` variables: JSON for lists, text otherwise."""
    return {
        ENV_PREFIX + key.upper(): value if isinstance(value, str) else json.dumps(value)
        for key, value in config.items()
    }


FROM_THE_ENVIRONMENT: dict[str, dict[str, object]] = {
    "required-only": {},  # the README's example
    "every-setting": {
        "response_format": "csv",
        "start_date": "2026-01-01",
        "csv_member_column": "member_id",
        "parallel_downloads": 2,
        "request_timeout_seconds": 30.5,
        "max_retries": 3,
        "max_retry_after_seconds": 60.5,
    },
}


@pytest.mark.parametrize(
    "settings", FROM_THE_ENVIRONMENT.values(), ids=FROM_THE_ENVIRONMENT
)
def test_settings_work_from_the_environment(
    emulator: EmulatorAdmin, tmp_path: Path, settings: dict[str, object]
) -> None:
    emulator.configure([audience("aud_env", 9)])
    config = emulator.tap_config("aud_env", **settings)
    run = run_tap(tmp_path, {}, args=("--config", "ENV"), env=_environment(config))
    assert run.returncode == 0, run.stderr
    assert sorted(run.member_ids()) == sorted(emulator.members("aud_env"))


def test_decimal_settings_are_accepted(emulator: EmulatorAdmin, tmp_path: Path) -> None:
    """singer-sdk reads `60.0` from a config file as a Decimal."""
    emulator.configure([audience("aud_a", 4)])
    config = emulator.tap_config(
        "aud_a", request_timeout_seconds=60.0, max_retry_after_seconds=2.5
    )
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    assert len(run.member_ids()) == 4


BAD_ENVIRONMENT = {
    "PARALLEL_DOWNLOADS": ("abc", "'parallel_downloads' must be a whole number"),
    "MAX_RETRIES": ("2.5", "'max_retries' must be a whole number"),
    "REQUEST_TIMEOUT_SECONDS": (MARKER, "'request_timeout_seconds' must be a number"),
    "AUDIENCES": (f"[{MARKER}", "'audiences' must be a list"),
    "STREAM_MAPS": (f"{{{MARKER}", "'stream_maps' does not satisfy 'type"),
    "FLATTENING_ENABLED": (MARKER, "'flattening_enabled' does not satisfy 'type"),
}


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [(name, *case) for name, case in BAD_ENVIRONMENT.items()],
    ids=BAD_ENVIRONMENT.keys(),
)
def test_bad_environment_value_is_one_line_naming_the_setting(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    config = EmulatorAdmin("http://127.0.0.1:9").tap_config("aud_a")
    env = {**_environment(config), ENV_PREFIX + variable: value}
    run = run_tap(tmp_path, {}, args=("--config", "ENV"), env=env)
    assert f"Setting {message}" in run.only_error()
    assert MARKER not in run.stderr


def test_unknown_settings_warn_naming_the_closest_one(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure([audience("aud_a", 3)])
    config = emulator.tap_config(
        "aud_a",
        paralel_downloads=f"8-{MARKER}",
        clientsecret=MARKER,
        zzzz=MARKER,
        # singer-sdk's own settings and Meltano's extras are not typos:
        stream_maps={},
        flattening_enabled=False,
        batch_config=None,
        _select=["*.*"],
        _metadata={},
    )
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    warnings = [line for line in run.stderr.splitlines() if "| WARNING" in line]
    assert [line.split("|", 3)[3].strip() for line in warnings] == [
        "Setting 'clientsecret' is unknown and ignored; did you mean 'client_secret'?",
        (
            "Setting 'paralel_downloads' is unknown and ignored; "
            "did you mean 'parallel_downloads'?"
        ),
        "Setting 'zzzz' is unknown and ignored",
    ]
    assert MARKER not in run.stderr


def test_about_states_the_bounds_validation_enforces(tmp_path: Path) -> None:
    run = run_tap(tmp_path, {}, args=("--about", "--format", "json"))
    properties = json.loads(run.stdout)["settings"]["properties"]
    bounds = {
        name: (properties[name].get("minimum"), properties[name].get("maximum"))
        for name in (
            "parallel_downloads",
            "max_retries",
            "request_timeout_seconds",
            "max_retry_after_seconds",
        )
    }
    assert bounds == {
        "parallel_downloads": (1, 32),
        "max_retries": (0, 20),
        "request_timeout_seconds": (1, 3600),
        "max_retry_after_seconds": (0, 3600),
    }


def test_id_with_dots_inside_stays_one_path_segment(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure([audience("a..b", 3)])
    run = run_tap(tmp_path, emulator.tap_config("a..b"))
    assert run.returncode == 0, run.stderr
    assert "/api/v1/audience/a..b/list" in {r["path"] for r in emulator.requests()}
    assert INSTITUTION in run.stdout


ACTIVATE_VERSION_REFUSED = (
    "Setting 'emit_activate_version_messages' cannot be true: the tap sends only "
    "what changed and leaves failed audiences out, so a target that deletes the "
    "rows missing from a version would delete delivered members and history"
)


@pytest.mark.parametrize("source", ["file", "environment"])
def test_activate_version_messages_are_refused_before_any_request(
    emulator: EmulatorAdmin, tmp_path: Path, source: str
) -> None:
    emulator.configure([audience("aud_a", 3)])
    config = emulator.tap_config("aud_a", emit_activate_version_messages=True)
    if source == "file":
        run = run_tap(tmp_path, config)
    else:
        env = _environment(config)
        run = run_tap(tmp_path, {}, args=("--config", "ENV"), env=env)
    assert run.only_error().endswith(ACTIVATE_VERSION_REFUSED)
    assert emulator.requests() == []


def test_activate_version_messages_off_is_a_known_setting(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure([audience("aud_a", 3)])
    config = emulator.tap_config("aud_a", emit_activate_version_messages=False)
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    assert "| WARNING" not in run.stderr
    assert {m["type"] for m in run.messages} == {"SCHEMA", "RECORD", "STATE"}


SDK_SOURCE = Path(singer_sdk.__file__).parent
# The target side, SQL taps and the filesystem tap: code this tap never runs.
SDK_NOT_TAP_SIDE = {"sinks", "sql", "connectors", "contrib", "testing"}
SDK_TARGET_MODULES = {"target_base.py", "mapper_base.py"}
# Tap-side code this tap does not use either; the test checks that it does not.
SDK_UNUSED_BY_THE_TAP = {"streams/rest.py", "authenticators.py"}
CONFIG_READ = re.compile(
    r'(?<![\w.])(?:self\.)?(?:plugin_)?config(?:\.get\(|\[)\s*"(\w+)"'
)


def test_every_setting_singer_sdk_reads_is_a_setting() -> None:
    """A key the SDK acts on is never warned about as unknown and ignored.

    Fails when a singer-sdk upgrade reads another key from a tap's config.
    """
    reads = {
        (match[1], str(path.relative_to(SDK_SOURCE)))
        for path in SDK_SOURCE.rglob("*.py")
        if SDK_NOT_TAP_SIDE.isdisjoint(path.relative_to(SDK_SOURCE).parts[:-1])
        and path.name not in SDK_TARGET_MODULES
        for match in CONFIG_READ.finditer(path.read_text())
    }
    assert {"emit_activate_version_messages", "start_date", "user_agent"} <= {
        key for key, _ in reads
    }
    settings = set(TapMxAudience.settings_schema()["properties"])
    used = {key for key, module in reads if module not in SDK_UNUSED_BY_THE_TAP}
    assert used - settings == set()
    tap = TapMxAudience(config=EmulatorAdmin("http://127.0.0.1:9").tap_config("a"))
    assert not any(isinstance(s, RESTStream) for s in tap.streams.values())
    assert not issubclass(MxAudienceAuthenticator, APIAuthenticatorBase)
