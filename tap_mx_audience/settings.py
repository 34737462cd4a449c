"""Typed, validated settings.

The SDK's JSON-schema validation quotes offending values in its messages, which
would print a mistyped secret. Every check here names the setting and says what
is wrong with it, never what it holds.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlsplit

from tap_mx_audience.audience import AudienceRef, ResponseFormat
from tap_mx_audience.dates import leading_date
from tap_mx_audience.errors import SettingsError

_Number = TypeVar("_Number", int, float)

DEFAULT_PARALLEL_DOWNLOADS = 4
DEFAULT_REQUEST_TIMEOUT_SECONDS = 60.0
DEFAULT_MAX_RETRIES = 5
DEFAULT_MAX_RETRY_AFTER_SECONDS = 120.0


@dataclass(frozen=True)
class Settings:
    """The tap's settings after validation."""

    client_id: str
    client_secret: str
    api_url: str
    audiences: tuple[AudienceRef, ...]
    response_format: ResponseFormat = ResponseFormat.JSON
    start_date: datetime.date | None = None
    csv_member_column: str | None = None
    snapshot_store: str | None = None
    parallel_downloads: int = DEFAULT_PARALLEL_DOWNLOADS
    request_timeout_seconds: float = DEFAULT_REQUEST_TIMEOUT_SECONDS
    max_retries: int = DEFAULT_MAX_RETRIES
    max_retry_after_seconds: float = DEFAULT_MAX_RETRY_AFTER_SECONDS

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Validate a raw config, raising `SettingsError` on the first problem."""
        return cls(
            client_id=_required_text(config, "client_id"),
            client_secret=_required_text(config, "client_secret"),
            api_url=_api_url(config),
            audiences=_audiences(config.get("audiences")),
            response_format=_response_format(config.get("response_format")),
            start_date=_start_date(config.get("start_date")),
            csv_member_column=_optional_text(config, "csv_member_column"),
            snapshot_store=_optional_text(config, "snapshot_store"),
            parallel_downloads=_number(
                config, "parallel_downloads", DEFAULT_PARALLEL_DOWNLOADS, bounds=(1, 32)
            ),
            request_timeout_seconds=_number(
                config,
                "request_timeout_seconds",
                DEFAULT_REQUEST_TIMEOUT_SECONDS,
                bounds=(1, 3600),
            ),
            max_retries=_number(
                config, "max_retries", DEFAULT_MAX_RETRIES, bounds=(0, 20)
            ),
            max_retry_after_seconds=_number(
                config,
                "max_retry_after_seconds",
                DEFAULT_MAX_RETRY_AFTER_SECONDS,
                bounds=(0, 3600),
            ),
        )


def _required_text(config: Mapping[str, Any], key: str, setting: str = "") -> str:
    value = _optional_text(config, key, setting)
    if value is None:
        raise SettingsError.about(setting or key, "is required")
    return value


def _optional_text(
    config: Mapping[str, Any], key: str, setting: str = ""
) -> str | None:
    value = config.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise SettingsError.about(setting or key, "must be a string")
    if not value.strip():
        raise SettingsError.about(setting or key, "must not be empty")
    return value.strip()


def _api_url(config: Mapping[str, Any]) -> str:
    url = _required_text(config, "api_url")
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise SettingsError.about(
            "api_url", "must be an http(s) URL such as https://yourdomain.access.mx.com"
        )
    if parts.query or parts.fragment:
        raise SettingsError.about(
            "api_url", "must not carry a query string or fragment"
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise SettingsError.about(
            "api_url",
            "uses http:// to a host that is not this machine; credentials would "
            "travel in clear text, use https://",
        )
    return url.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _audiences(value: object) -> tuple[AudienceRef, ...]:
    if value is None:
        raise SettingsError.about(
            "audiences", "is required: list at least one audience"
        )
    if not isinstance(value, list):
        raise SettingsError.about(
            "audiences",
            "must be a list of {id_or_slug, institution_public_id} objects",
        )
    if not value:
        raise SettingsError.about("audiences", "must list at least one audience")
    # Ordered, and the repeat check below is O(1): 10,000 audiences are fine.
    audiences: dict[AudienceRef, None] = {}
    for index, item in enumerate(value):
        name = f"audiences[{index}]"
        if not isinstance(item, Mapping):
            raise SettingsError.about(
                name, "must be an object with id_or_slug and institution_public_id"
            )
        unknown = sorted(set(item) - {"id_or_slug", "institution_public_id"})
        if unknown:
            raise SettingsError.about(name, f"has unknown key(s): {', '.join(unknown)}")
        audience = AudienceRef(
            id_or_slug=_required_text(item, "id_or_slug", f"{name}.id_or_slug"),
            institution_public_id=_required_text(
                item, "institution_public_id", f"{name}.institution_public_id"
            ),
        )
        if audience in audiences:
            raise SettingsError.about(name, f"repeats {audience.label}")
        audiences[audience] = None
    return tuple(audiences)


def _response_format(value: object) -> ResponseFormat:
    if value is None:
        return ResponseFormat.JSON
    try:
        return ResponseFormat(str(value))
    except ValueError:
        raise SettingsError.about(
            "response_format", "must be 'json' or 'csv'"
        ) from None


def _start_date(value: object) -> datetime.date | None:
    if value is None or value == "":
        return None
    if date := leading_date(value):
        return date
    raise SettingsError.about("start_date", "must be a date such as 2024-01-31")


def _number(
    config: Mapping[str, Any],
    name: str,
    default: _Number,
    *,
    bounds: tuple[float, float],
) -> _Number:
    low, high = bounds
    kind = type(default)
    value = config.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise SettingsError.about(name, f"must be a number from {low:g} to {high:g}")
    if kind is int and not float(value).is_integer():
        raise SettingsError.about(
            name, f"must be a whole number from {low:g} to {high:g}"
        )
    if not low <= value <= high:
        raise SettingsError.about(name, f"must be from {low:g} to {high:g}")
    return kind(value)
