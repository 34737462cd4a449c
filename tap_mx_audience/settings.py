"""Typed, validated settings.

The SDK's JSON-schema validation quotes offending values in its messages, which
would print a mistyped secret. Every check here names the setting and says what
is wrong with it, never what it holds.
"""

from __future__ import annotations

import datetime
import difflib
import ipaddress
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from tap_mx_audience.audience import AudienceRef, ResponseFormat
from tap_mx_audience.dates import optional_date
from tap_mx_audience.errors import SettingsError

_Number = TypeVar("_Number", int, float)


@dataclass(frozen=True)
class NumberSetting(Generic[_Number]):
    """A number setting: its default and the bounds validation enforces.

    The config schema states the same bounds (`--about`), from these values.
    """

    name: str
    default: _Number
    minimum: int
    maximum: int

    def read(self, config: Mapping[str, Any]) -> _Number:
        """The configured value, or the default; `SettingsError` when out of bounds."""
        kind = type(self.default)
        bounds = f"from {self.minimum} to {self.maximum}"
        value = config.get(self.name)
        if value is None:
            return self.default
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            number = "a whole number" if kind is int else "a number"
            raise SettingsError.about(self.name, f"must be {number} {bounds}")
        if kind is int and not float(value).is_integer():
            raise SettingsError.about(self.name, f"must be a whole number {bounds}")
        if not self.minimum <= value <= self.maximum:
            raise SettingsError.about(self.name, f"must be {bounds}")
        return kind(value)


PARALLEL_DOWNLOADS = NumberSetting("parallel_downloads", 4, 1, 32)
REQUEST_TIMEOUT_SECONDS = NumberSetting("request_timeout_seconds", 60.0, 1, 3600)
MAX_RETRIES = NumberSetting("max_retries", 5, 0, 20)
MAX_RETRY_AFTER_SECONDS = NumberSetting("max_retry_after_seconds", 120.0, 0, 3600)


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
    parallel_downloads: int = PARALLEL_DOWNLOADS.default
    request_timeout_seconds: float = REQUEST_TIMEOUT_SECONDS.default
    max_retries: int = MAX_RETRIES.default
    max_retry_after_seconds: float = MAX_RETRY_AFTER_SECONDS.default

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
            parallel_downloads=PARALLEL_DOWNLOADS.read(config),
            request_timeout_seconds=REQUEST_TIMEOUT_SECONDS.read(config),
            max_retries=MAX_RETRIES.read(config),
            max_retry_after_seconds=MAX_RETRY_AFTER_SECONDS.read(config),
        )


def unknown_settings(config: Mapping[str, Any], known: Collection[str]) -> list[str]:
    """One line per top-level key that is no setting, naming the closest one.

    Such keys are ignored, so a typo would silently leave a setting at its
    default. Keys starting with `_` are Meltano's extras (`_select`, ...).
    """
    lines = []
    for key in sorted(config):
        if key in known or key.startswith("_"):
            continue
        closest = difflib.get_close_matches(key, known, n=1)
        hint = f"; did you mean '{closest[0]}'?" if closest else ""
        lines.append(f"Setting '{key}' is unknown and ignored{hint}")
    return lines


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
            id_or_slug=_path_segment(item, "id_or_slug", f"{name}.id_or_slug"),
            institution_public_id=_identifier(
                item, "institution_public_id", f"{name}.institution_public_id"
            ),
        )
        if audience in audiences:
            raise SettingsError.about(name, f"repeats {audience.label}")
        audiences[audience] = None
    return tuple(audiences)


def _identifier(item: Mapping[str, Any], key: str, setting: str) -> str:
    """An id exactly as configured: refused rather than trimmed, so never altered.

    It names the audience in requests and in state, so a trimmed id would be
    another audience than the one written down.
    """
    value = _required_text(item, key, setting)
    if value != item[key]:
        raise SettingsError.about(setting, "must not start or end with whitespace")
    return value


def _path_segment(item: Mapping[str, Any], key: str, setting: str) -> str:
    """An id that stays one URL path segment (the client quotes every `/`).

    HTTP clients resolve `.` and `..` segments, which would send the request
    to another path, such as `/api/v1/list`.
    """
    value = _identifier(item, key, setting)
    if value in {".", ".."}:
        raise SettingsError.about(
            setting, "must not be '.' or '..': the request would go to another path"
        )
    return value


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
    try:
        return optional_date(value)
    except ValueError:
        raise SettingsError.about(
            "start_date", "must be a date such as 2024-01-31"
        ) from None
