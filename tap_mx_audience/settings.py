"""Typed, validated settings: the settings schema first, then what it cannot state.

The schema (tap.py) states types, required settings, number bounds, allowed
values and allowed keys; `schema_problems` reports the config's breaches of
it. `Settings.from_config` then applies the rules no schema states (non-empty
text, loopback-only http, ids that stay one path segment, repeated audiences,
no ACTIVATE_VERSION, a supported `snapshot_store` and its options only with
it, a depth for flattening) and converts. singer-sdk's own messages quote the
offending value, which would print a mistyped secret: every line here names
the setting by its path and says what is wrong with it, never what it holds.
"""

from __future__ import annotations

import datetime
import difflib
import ipaddress
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from jsonschema import TypeChecker, validators
from jsonschema.exceptions import ValidationError

from tap_mx_audience.audience import AudienceRef, ResponseFormat
from tap_mx_audience.dates import optional_date
from tap_mx_audience.errors import SettingsError
from tap_mx_audience.storeurl import store_location

_Number = TypeVar("_Number", int, float)


@dataclass(frozen=True)
class NumberSetting(Generic[_Number]):
    """A number setting: its name, default and bounds, which the schema states."""

    name: str
    default: _Number
    minimum: int
    maximum: int

    def read(self, config: Mapping[str, Any]) -> _Number:
        """The configured value (within bounds: the schema said so), or the default."""
        value = config.get(self.name)
        return self.default if value is None else type(self.default)(value)


PARALLEL_DOWNLOADS = NumberSetting("parallel_downloads", 4, 1, 32)
REQUEST_TIMEOUT_SECONDS = NumberSetting("request_timeout_seconds", 60.0, 1, 3600)
MAX_RETRIES = NumberSetting("max_retries", 5, 0, 20)
MAX_RETRY_AFTER_SECONDS = NumberSetting("max_retry_after_seconds", 120.0, 0, 3600)
HISTORY_RETENTION_DAYS = NumberSetting("history_retention_days", 365, 1, 36500)


@dataclass(frozen=True)
class Settings:
    """The tap's settings after validation."""

    client_id: str
    client_secret: str = field(repr=False)
    api_url: str
    audiences: tuple[AudienceRef, ...]
    response_format: ResponseFormat = ResponseFormat.JSON
    start_date: datetime.date | None = None
    csv_member_column: str | None = None
    snapshot_store: str | None = None
    snapshot_store_options: Mapping[str, Any] = field(default_factory=dict, repr=False)
    """fsspec's storage options for the store: may hold keys, never printed."""
    history_retention_days: int = HISTORY_RETENTION_DAYS.default
    """How long closed membership periods stay in the store's log."""
    parallel_downloads: int = PARALLEL_DOWNLOADS.default
    request_timeout_seconds: float = REQUEST_TIMEOUT_SECONDS.default
    max_retries: int = MAX_RETRIES.default
    max_retry_after_seconds: float = MAX_RETRY_AFTER_SECONDS.default

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        """Settings from a config in which `schema_problems` found nothing.

        Raises `SettingsError` on the first rule the schema cannot state
        that the config breaks.
        """
        if config.get("emit_activate_version_messages"):
            raise SettingsError.about(
                "emit_activate_version_messages",
                "cannot be true: the tap sends only what changed and leaves failed "
                "audiences out, so a target that deletes the rows missing from a "
                "version would delete delivered members and history",
            )
        if (
            config.get("flattening_enabled")
            and config.get("flattening_max_depth") is None
        ):
            # singer-sdk stops later, with a two-line error of its own.
            raise SettingsError.about(
                "flattening_max_depth", "is required when 'flattening_enabled' is true"
            )
        store = _snapshot_store(config)
        return cls(
            client_id=_required_text(config, "client_id"),
            client_secret=_required_text(config, "client_secret"),
            api_url=_api_url(config),
            audiences=_audiences(config["audiences"]),
            response_format=ResponseFormat(
                config.get("response_format") or ResponseFormat.JSON
            ),
            start_date=_start_date(config.get("start_date")),
            csv_member_column=_optional_text(config, "csv_member_column"),
            snapshot_store=store,
            snapshot_store_options=_store_options(config, store),
            history_retention_days=HISTORY_RETENTION_DAYS.read(config),
            parallel_downloads=PARALLEL_DOWNLOADS.read(config),
            request_timeout_seconds=REQUEST_TIMEOUT_SECONDS.read(config),
            max_retries=MAX_RETRIES.read(config),
            max_retry_after_seconds=MAX_RETRY_AFTER_SECONDS.read(config),
        )


def schema_problems(
    config: Mapping[str, Any], schema: Mapping[str, Any], builtin: Collection[str]
) -> list[str]:
    """One line per breach of the settings schema, settings in schema order.

    A null is an unset setting, as a missing one. singer-sdk's built-in
    settings (`builtin`) are named with the rule they break, as the SDK's
    schemas state it (their `anyOf`s have no plainer wording).
    """
    given = {key: value for key, value in config.items() if value is not None}
    draft = validators.validator_for(schema)
    checker = draft.TYPE_CHECKER.redefine("integer", _is_integer)
    validator = validators.extend(draft, type_checker=checker)  # type: ignore[no-untyped-call]
    errors = validator(schema).iter_errors(given)
    order = {name: index for index, name in enumerate(schema["properties"])}
    lines = sorted(
        (line for error in errors for line in _lines(error, builtin)),
        key=lambda line: order.get(line[0], len(order)),
    )
    return list(dict.fromkeys(str(SettingsError.about(*line[1:])) for line in lines))


def _is_integer(_: TypeChecker, instance: object) -> bool:
    """A whole number, `4.0` too: singer-sdk reads decimals in a file as Decimal."""
    if isinstance(instance, bool):
        return False
    if isinstance(instance, int):
        return True
    return isinstance(instance, float | Decimal) and float(instance).is_integer()


def _lines(
    error: ValidationError, builtin: Collection[str]
) -> Iterator[tuple[str, str, str]]:
    """(top-level setting, setting path, problem) for each setting an error is about."""
    path = list(error.absolute_path)
    if error.validator == "required":
        # Both are set on every error that `iter_errors` yields.
        properties: Any = error.validator_value
        given: Any = error.instance
        for missing in properties:
            if missing not in given:
                where = [*path, missing]
                yield str(where[0]), _name(where), "is required"
        return
    problem = None if path[0] in builtin else _problem(error, path)
    rule = f"does not satisfy '{error.validator}: {error.validator_value}'"
    yield str(path[0]), _name(path), problem or rule


def _name(path: Sequence[str | int]) -> str:
    """`audiences[0].id_or_slug`: how messages name a place in the config."""
    return "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in path
    ).removeprefix(".")


def _problem(error: ValidationError, path: Sequence[str | int]) -> str | None:
    """What is wrong, in words; None for a rule without them."""
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    instance: Any = error.instance
    value: Any = error.validator_value
    if error.validator == "type":
        # A property built by singer_sdk.typing accepts null unless required.
        if instance is None and isinstance(path[-1], str):
            return "is required"
        return f"must be {_kind(schema)}"
    if error.validator in {"minimum", "maximum"}:
        bounds = _bounds(schema)
        side = "at least" if error.validator == "minimum" else "at most"
        return f"must be {bounds or f'{side} {value}'}"
    if error.validator == "enum":
        *others, last = (repr(allowed) for allowed in value)
        return f"must be {', '.join(others)} or {last}" if others else f"must be {last}"
    if error.validator == "additionalProperties":
        unknown = sorted(set(instance) - set(schema.get("properties", {})))
        return f"has unknown key(s): {', '.join(unknown)}"
    return None


def _kind(schema: Mapping[str, Any]) -> str:
    """What a value of the schema's type is called: `a whole number from 1 to 32`."""
    declared = schema["type"]
    types = [declared] if isinstance(declared, str) else declared
    kind = next(name for name in types if name != "null")
    bounds = _bounds(schema)
    if kind in {"integer", "number"}:
        number = "a whole number" if kind == "integer" else "a number"
        return f"{number} {bounds}" if bounds else number
    if kind == "array" and (fields := schema.get("items", {}).get("properties")):
        return f"a list of {{{', '.join(fields)}}} objects"
    if kind == "object" and (required := schema.get("required")):
        return f"an object with {' and '.join(required)}"
    return {
        "string": "a string",
        "boolean": "true or false",
        "array": "a list",
        "object": "an object",
    }[kind]


def _bounds(schema: Mapping[str, Any]) -> str:
    """`from 1 to 32` for a setting with both bounds, else nothing."""
    low, high = schema.get("minimum"), schema.get("maximum")
    return "" if low is None or high is None else f"from {low} to {high}"


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


def _required_text(config: Mapping[str, Any], key: str) -> str:
    return _stripped(config[key], key)


def _optional_text(config: Mapping[str, Any], key: str) -> str | None:
    value = config.get(key)
    return None if value is None else _stripped(value, key)


def _stripped(value: str, setting: str) -> str:
    if not value.strip():
        raise SettingsError.about(setting, "must not be empty")
    return value.strip()


def _snapshot_store(config: Mapping[str, Any]) -> str | None:
    value = _optional_text(config, "snapshot_store")
    return None if value is None else store_location(value)


def _store_options(config: Mapping[str, Any], store: str | None) -> dict[str, Any]:
    options = config.get("snapshot_store_options")
    if options is None:
        return {}
    if store is None:
        raise SettingsError.about("snapshot_store_options", "needs 'snapshot_store'")
    return dict(options)


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


def _audiences(items: list[Mapping[str, str]]) -> tuple[AudienceRef, ...]:
    if not items:
        raise SettingsError.about("audiences", "must list at least one audience")
    # Ordered, and the repeat check below is O(1): 10,000 audiences are fine.
    audiences: dict[AudienceRef, None] = {}
    for index, item in enumerate(items):
        name = f"audiences[{index}]"
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


def _identifier(item: Mapping[str, str], key: str, setting: str) -> str:
    """An id exactly as configured: refused rather than trimmed, so never altered.

    It names the audience in requests and in state, so a trimmed id would be
    another audience than the one written down.
    """
    value = _stripped(item[key], setting)
    if value != item[key]:
        raise SettingsError.about(setting, "must not start or end with whitespace")
    return value


def _path_segment(item: Mapping[str, str], key: str, setting: str) -> str:
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


def _start_date(value: str | None) -> datetime.date | None:
    """Checked here: validation checks no `format`, as singer-sdk's does not.

    A timestamp keeps its date, as the tap has always taken it.
    """
    try:
        return optional_date(value)
    except ValueError:
        raise SettingsError.about(
            "start_date", "must be a date such as 2024-01-31"
        ) from None
