"""Settings validation as a table: the schema's breaches, then the rules beyond it.

In-process and in milliseconds; the CLI tests (test_hostile_config.py,
test_config_input.py) prove the whole. Each bad value carries a marker, so a
line quoting it is caught.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tap_mx_audience.errors import SettingsError
from tap_mx_audience.settings import Settings, schema_problems
from tap_mx_audience.tap import TapMxAudience

MARKER = "leakymarker"
AUDIENCE = {"id_or_slug": "aud_a", "institution_public_id": "INST"}
VALID: dict[str, Any] = {
    "client_id": "client",
    "client_secret": "secret",
    "api_url": "https://mx.example",
    "audiences": [AUDIENCE],
}


def problems(changes: dict[str, Any]) -> list[str]:
    return schema_problems(
        {**VALID, **changes},
        TapMxAudience.settings_schema(),
        TapMxAudience.builtin_settings(),
    )


SCHEMA_PROBLEMS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "valid": ({}, []),
    "null-is-unset": ({"max_retries": None, "response_format": None}, []),
    "null-required": ({"client_secret": None}, ["'client_secret' is required"]),
    "decimal-whole-number": ({"parallel_downloads": Decimal("4.0")}, []),
    "decimal-fraction": (
        {"max_retries": Decimal("2.5")},
        ["'max_retries' must be a whole number from 0 to 20"],
    ),
    "boolean-is-no-number": (
        {"parallel_downloads": True},
        ["'parallel_downloads' must be a whole number from 1 to 32"],
    ),
    "below-minimum": (
        {"request_timeout_seconds": 0.5},
        ["'request_timeout_seconds' must be from 1 to 3600"],
    ),
    "enum-lists-the-allowed": (
        {"response_format": MARKER},
        ["'response_format' must be 'json' or 'csv'"],
    ),
    "null-audience-field": (
        {"audiences": [{**AUDIENCE, "institution_public_id": None}]},
        ["'audiences[0].institution_public_id' is required"],
    ),
    "null-audience": (
        {"audiences": [AUDIENCE, None]},
        ["'audiences[1]' must be an object with id_or_slug and institution_public_id"],
    ),
    "unknown-audience-key": (
        {"audiences": [{**AUDIENCE, "slug": MARKER}]},
        ["'audiences[0]' has unknown key(s): slug"],
    ),
    "retention-not-a-number": (
        {"history_retention_days": MARKER},
        ["'history_retention_days' must be a whole number from 1 to 36500"],
    ),
    "store-options-not-an-object": (
        {"snapshot_store_options": MARKER},
        ["'snapshot_store_options' must be an object"],
    ),
    "builtin-by-rule": (
        {"flattening_max_depth": MARKER},
        ["'flattening_max_depth' does not satisfy 'type: ['integer', 'null']'"],
    ),
    "builtin-nested": (
        {"batch_config": {"encoding": {"format": MARKER}}},
        [
            (
                "'batch_config.encoding.format' "
                "does not satisfy 'enum: ['jsonl', 'parquet']'"
            )
        ],
    ),
    "every-problem-in-schema-order": (
        {
            "max_retries": -1,
            "client_id": 5,
            "audiences": MARKER,
            "stream_maps": MARKER,
            "api_url": None,
        },
        [
            "'client_id' must be a string",
            "'api_url' is required",
            "'audiences' must be a list of {id_or_slug, institution_public_id} objects",
            "'max_retries' must be from 0 to 20",
            "'stream_maps' does not satisfy 'type: ['object', 'null']'",
        ],
    ),
}


@pytest.mark.parametrize(
    ("changes", "expected"), SCHEMA_PROBLEMS.values(), ids=SCHEMA_PROBLEMS.keys()
)
def test_schema_problems_name_the_setting_never_the_value(
    changes: dict[str, Any], expected: list[str]
) -> None:
    lines = problems(changes)
    assert lines == [f"Setting {line}" for line in expected]
    assert not any(MARKER in line for line in lines)


def test_settings_convert_what_the_schema_checked() -> None:
    settings = Settings.from_config(
        {
            **VALID,
            "api_url": " https://mx.example/ ",
            "parallel_downloads": Decimal("8.0"),
            "request_timeout_seconds": Decimal("2.5"),
            "start_date": "2026-01-31T10:00:00Z",
            "max_retries": None,
        }
    )
    assert settings.api_url == "https://mx.example"
    assert settings.parallel_downloads == 8
    assert isinstance(settings.parallel_downloads, int)
    assert settings.request_timeout_seconds == 2.5
    assert settings.start_date is not None
    assert settings.start_date.isoformat() == "2026-01-31"
    assert settings.max_retries == 5


def test_rules_the_schema_cannot_state_come_after_it() -> None:
    with pytest.raises(SettingsError, match=r"^Setting 'audiences\[1\]' repeats "):
        Settings.from_config({**VALID, "audiences": [AUDIENCE, AUDIENCE]})
    assert problems({"audiences": [AUDIENCE, AUDIENCE]}) == []


def test_the_snapshot_store_settings_for_changes_mode() -> None:
    default = Settings.from_config(VALID)
    assert default.snapshot_store_options == {}
    assert default.history_retention_days == 365
    options = {"profile": "p", "client_kwargs": {"region_name": "eu-west-1"}}
    settings = Settings.from_config(
        {
            **VALID,
            "snapshot_store": "s3://bucket/snapshots",
            "snapshot_store_options": options,
            "history_retention_days": 30,
        }
    )
    assert settings.snapshot_store_options == options
    assert settings.history_retention_days == 30
    with pytest.raises(
        SettingsError,
        match=r"^Setting 'snapshot_store_options' needs 'snapshot_store'$",
    ):
        Settings.from_config({**VALID, "snapshot_store_options": options})


def test_settings_never_show_a_secret() -> None:
    settings = Settings.from_config(
        {
            **VALID,
            "client_secret": MARKER,
            "snapshot_store": "snapshots",
            "snapshot_store_options": {"key": MARKER},
        }
    )
    assert MARKER not in repr(settings)
