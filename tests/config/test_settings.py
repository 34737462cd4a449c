"""Settings validation as tables: the schema's breaches, the rules beyond it, typos.

In-process and in milliseconds; the CLI tests (test_hostile_config.py,
test_config_input.py) prove the whole. Each bad value carries a marker, so a
line quoting it is caught.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tap_mx_audience.audience import AudienceRef, ResponseFormat
from tap_mx_audience.errors import SettingsError
from tap_mx_audience.settings import Settings, schema_problems, unknown_settings
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
    "every-required-setting-unset": (
        dict.fromkeys(["audiences", "api_url", "client_secret", "client_id"]),
        [
            "'client_id' is required",
            "'client_secret' is required",
            "'api_url' is required",
            "'audiences' is required",
        ],
    ),
    "secret-an-object": (
        {"client_secret": {"value": MARKER}},
        ["'client_secret' must be a string"],
    ),
    "secret-a-list": (
        {"client_secret": [MARKER]},
        ["'client_secret' must be a string"],
    ),
    "date-not-a-string": ({"start_date": 20260101}, ["'start_date' must be a string"]),
    "number-a-string": (
        {"request_timeout_seconds": MARKER},
        ["'request_timeout_seconds' must be a number from 1 to 3600"],
    ),
    "whole-number-a-fraction": (
        {"history_retention_days": 1.5},
        ["'history_retention_days' must be a whole number from 1 to 36500"],
    ),
    "above-maximum": (
        {"parallel_downloads": 33},
        ["'parallel_downloads' must be from 1 to 32"],
    ),
    "boolean-not-a-boolean": (
        {"emit_activate_version_messages": MARKER},
        ["'emit_activate_version_messages' must be true or false"],
    ),
    "audience-not-an-object": (
        {"audiences": [MARKER]},
        ["'audiences[0]' must be an object with id_or_slug and institution_public_id"],
    ),
    "audience-field-not-a-string": (
        {"audiences": [{**AUDIENCE, "id_or_slug": 5}]},
        ["'audiences[0].id_or_slug' must be a string"],
    ),
    "audience-field-absent": (
        {"audiences": [AUDIENCE, {"id_or_slug": MARKER}]},
        ["'audiences[1].institution_public_id' is required"],
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


NOT_THIS_MACHINE = (
    "uses http:// to a host that is not this machine; credentials would travel "
    "in clear text, use https://"
)
NO_HTTP_URL = "must be an http(s) URL such as https://yourdomain.access.mx.com"
ANOTHER_PATH = "must not be '.' or '..': the request would go to another path"
RULES: dict[str, tuple[dict[str, Any], str]] = {
    "flattening-without-depth": (
        {"flattening_enabled": True},
        "'flattening_max_depth' is required when 'flattening_enabled' is true",
    ),
    "activate-version-true": (
        {"emit_activate_version_messages": True},
        (
            "'emit_activate_version_messages' cannot be true: the tap sends only "
            "what changed and leaves failed audiences out, so a target that "
            "deletes the rows missing from a version would delete delivered "
            "members and history"
        ),
    ),
    "client_id-blank": ({"client_id": "  "}, "'client_id' must not be empty"),
    "client_secret-empty": ({"client_secret": ""}, "'client_secret' must not be empty"),
    "api_url-blank": ({"api_url": " "}, "'api_url' must not be empty"),
    "api_url-no-scheme": ({"api_url": f"{MARKER}.example"}, f"'api_url' {NO_HTTP_URL}"),
    "api_url-ftp": ({"api_url": f"ftp://{MARKER}.example"}, f"'api_url' {NO_HTTP_URL}"),
    "api_url-no-host": ({"api_url": "https://"}, f"'api_url' {NO_HTTP_URL}"),
    "api_url-query": (
        {"api_url": f"https://mx.example/?{MARKER}"},
        "'api_url' must not carry a query string or fragment",
    ),
    "api_url-fragment": (
        {"api_url": f"https://mx.example/#{MARKER}"},
        "'api_url' must not carry a query string or fragment",
    ),
    "api_url-http-elsewhere": (
        {"api_url": f"http://{MARKER}.example"},
        f"'api_url' {NOT_THIS_MACHINE}",
    ),
    "api_url-http-private-address": (
        {"api_url": "http://10.0.0.1"},
        f"'api_url' {NOT_THIS_MACHINE}",
    ),
    "audiences-empty": (
        {"audiences": []},
        "'audiences' must list at least one audience",
    ),
    "audiences-repeated": (
        {"audiences": [AUDIENCE, AUDIENCE]},
        "'audiences[1]' repeats audience 'aud_a' (institution 'INST')",
    ),
    "id_or_slug-blank": (
        {"audiences": [{**AUDIENCE, "id_or_slug": "  "}]},
        "'audiences[0].id_or_slug' must not be empty",
    ),
    "id_or_slug-dot": (
        {"audiences": [{**AUDIENCE, "id_or_slug": "."}]},
        f"'audiences[0].id_or_slug' {ANOTHER_PATH}",
    ),
    "id_or_slug-dot-dot": (
        {"audiences": [AUDIENCE, {**AUDIENCE, "id_or_slug": ".."}]},
        f"'audiences[1].id_or_slug' {ANOTHER_PATH}",
    ),
    "id_or_slug-spaces": (
        {"audiences": [{**AUDIENCE, "id_or_slug": f" {MARKER}"}]},
        "'audiences[0].id_or_slug' must not start or end with whitespace",
    ),
    "institution-spaces": (
        {"audiences": [{**AUDIENCE, "institution_public_id": f"{MARKER}\t"}]},
        "'audiences[0].institution_public_id' must not start or end with whitespace",
    ),
    "start_date-not-a-date": (
        {"start_date": MARKER},
        "'start_date' must be a date such as 2024-01-31",
    ),
    "start_date-impossible": (
        {"start_date": "2024-13-45"},
        "'start_date' must be a date such as 2024-01-31",
    ),
    "csv_member_column-blank": (
        {"csv_member_column": " "},
        "'csv_member_column' must not be empty",
    ),
    "snapshot_store-blank": (
        {"snapshot_store": " "},
        "'snapshot_store' must not be empty",
    ),
    "snapshot_store-unsupported-url": (
        {"snapshot_store": f"ftp://{MARKER}/snapshots"},
        (
            "'snapshot_store' must be a directory, a file:// URL or an object store "
            "URL (s3://, s3a://, gs://, gcs://, az://, abfs://, abfss://, adl://)"
        ),
    ),
    "snapshot_store_options-without-store": (
        {"snapshot_store_options": {"key": MARKER}},
        "'snapshot_store_options' needs 'snapshot_store'",
    ),
}


@pytest.mark.parametrize(("changes", "expected"), RULES.values(), ids=RULES)
def test_rules_the_schema_cannot_state_come_after_it(
    changes: dict[str, Any], expected: str
) -> None:
    assert problems(changes) == []
    with pytest.raises(SettingsError) as raised:
        Settings.from_config({**VALID, **changes})
    assert str(raised.value) == f"Setting {expected}"
    assert MARKER not in str(raised.value)


ACCEPTED: dict[str, tuple[dict[str, Any], str, object]] = {
    "http-to-loopback-address": (
        {"api_url": "http://127.0.0.1:8765"},
        "api_url",
        "http://127.0.0.1:8765",
    ),
    "http-to-localhost": (
        {"api_url": "http://localhost:8765/"},
        "api_url",
        "http://localhost:8765",
    ),
    "http-to-ipv6-loopback": (
        {"api_url": "http://[::1]:8765"},
        "api_url",
        "http://[::1]:8765",
    ),
    "dots-inside-an-id": (
        {"audiences": [{**AUDIENCE, "id_or_slug": "a..b"}]},
        "audiences",
        (AudienceRef("a..b", "INST"),),
    ),
    "audiences-in-order": (
        {"audiences": [{**AUDIENCE, "id_or_slug": "b"}, AUDIENCE]},
        "audiences",
        (AudienceRef("b", "INST"), AudienceRef("aud_a", "INST")),
    ),
    "start_date-empty-is-unset": ({"start_date": ""}, "start_date", None),
    "response_format-csv": (
        {"response_format": "csv"},
        "response_format",
        ResponseFormat.CSV,
    ),
    "response_format-default": ({}, "response_format", ResponseFormat.JSON),
    "csv_member_column-trimmed": (
        {"csv_member_column": " member_id "},
        "csv_member_column",
        "member_id",
    ),
    "file-url-store-decoded": (
        {"snapshot_store": "file:///srv/with%20space"},
        "snapshot_store",
        "/srv/with space",
    ),
}


@pytest.mark.parametrize(
    ("changes", "attribute", "expected"), ACCEPTED.values(), ids=ACCEPTED
)
def test_accepted_values_and_what_they_become(
    changes: dict[str, Any], attribute: str, expected: object
) -> None:
    assert problems(changes) == []
    assert getattr(Settings.from_config({**VALID, **changes}), attribute) == expected


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


KNOWN = TapMxAudience.settings_schema()["properties"]
UNKNOWN: dict[str, tuple[dict[str, Any], list[str]]] = {
    "typo": (
        {"paralel_downloads": MARKER},
        [
            (
                "Setting 'paralel_downloads' is unknown and ignored; "
                "did you mean 'parallel_downloads'?"
            )
        ],
    ),
    "typo-of-a-builtin-setting": (
        {"stream_map": {"key": MARKER}},
        ["Setting 'stream_map' is unknown and ignored; did you mean 'stream_maps'?"],
    ),
    "nothing-close": ({"zzzz": MARKER}, ["Setting 'zzzz' is unknown and ignored"]),
    "sorted-by-name": (
        {"zzzz": MARKER, "clientsecret": MARKER},
        [
            (
                "Setting 'clientsecret' is unknown and ignored; "
                "did you mean 'client_secret'?"
            ),
            "Setting 'zzzz' is unknown and ignored",
        ],
    ),
    "builtin-settings-are-settings": (
        {"stream_maps": {}, "flattening_enabled": False, "batch_config": None},
        [],
    ),
    "meltano-extras": ({"_select": [MARKER], "_metadata": {"k": MARKER}}, []),
}


@pytest.mark.parametrize(("extra", "expected"), UNKNOWN.values(), ids=UNKNOWN)
def test_unknown_settings_name_the_closest_never_the_value(
    extra: dict[str, Any], expected: list[str]
) -> None:
    lines = unknown_settings({**VALID, **extra}, KNOWN)
    assert lines == expected
    assert not any(MARKER in line for line in lines)
