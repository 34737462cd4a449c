"""The emulator's world: API clients, audiences and the server-wide settings.

Everything is a frozen dataclass so a request handler can take a snapshot
under the state lock and stream a huge body from it without holding the lock.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Literal, Self

from mx_audience_emulator.jsonmodel import ConfigError, from_json_dict, to_json_dict

BODY_KEYS = ("audience_id", "count", "institution_id", "list", "updated_on")
"""Keys an audience list body can carry, in the documented order."""

MAX_MEMBER_INDEX = 16**12
"""Member indices are rendered as 12 hex digits, so they must stay below this."""

TokenKey = Literal["access_token", "token"]
JsonLayout = Literal[
    "compact", "spaced_colon", "spaced_comma", "spaced", "pretty", "pretty_crlf"
]
"""How a JSON list body is laid out: `json.dumps` separators, or indent=2."""
CsvLineEnding = Literal["crlf", "lf"]


@dataclasses.dataclass(frozen=True)
class Client:
    """One client_id / client_secret pair allowed to request tokens."""

    client_id: str
    client_secret: str = dataclasses.field(repr=False)

    def __post_init__(self) -> None:
        """Reject empty credentials, which would make any request authenticate."""
        if not self.client_id or not self.client_secret:
            msg = "client_id and client_secret must not be empty"
            raise ConfigError(msg)


@dataclasses.dataclass(frozen=True)
class Audience:
    """One audience list and the knobs that shape how it is served.

    Members are indices `range(offset, offset + size)` of `seed` (see
    `members.py`), plus `extra_members`, minus `removed_members`; moving
    `offset` or changing `size` makes members leave and join.
    """

    audience_id: str
    institution_id: str
    size: int
    updated_on: str
    slug: str | None = None
    seed: str | None = None
    offset: int = 0
    extra_members: tuple[str, ...] = ()
    removed_members: tuple[str, ...] = ()
    count_delta: int = 0
    forbidden: bool = False
    key_order: tuple[str, ...] = BODY_KEYS
    csv_header: str | None = "member_id"
    csv_extra_columns: bool = False
    json_layout: JsonLayout = "compact"
    csv_line_ending: CsvLineEnding = "crlf"
    last_modified: bool = True
    gzip: bool = False

    def __post_init__(self) -> None:
        """Catch settings that would produce a body the emulator cannot describe."""
        if not self.audience_id or not self.institution_id:
            msg = "audience_id and institution_id must not be empty"
            raise ConfigError(msg)
        if (
            self.size < 0
            or self.offset < 0
            or self.offset + self.size > MAX_MEMBER_INDEX
        ):
            msg = (
                f"offset and size must satisfy 0 <= offset + size <= {MAX_MEMBER_INDEX}"
            )
            raise ConfigError(msg)
        unknown = set(self.key_order) - set(BODY_KEYS)
        if unknown or len(set(self.key_order)) != len(self.key_order):
            msg = f"key_order must list distinct keys among {', '.join(BODY_KEYS)}"
            raise ConfigError(msg)
        if self.csv_header is not None and (
            not self.csv_header or set(self.csv_header) & set(',"\r\n')
        ):
            msg = "csv_header must be a plain non-empty column name"
            raise ConfigError(msg)
        self.updated_datetime()

    @property
    def member_seed(self) -> str:
        """The seed member ids derive from; the audience id unless set."""
        return self.seed if self.seed is not None else self.audience_id

    def updated_datetime(self) -> dt.datetime:
        """Parse `updated_on` (ISO date or datetime) as an aware UTC datetime."""
        try:
            parsed = dt.datetime.fromisoformat(self.updated_on)
        except ValueError:
            msg = f"updated_on is not an ISO date: {self.updated_on!r}"
            raise ConfigError(msg) from None
        return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed

    def patched(self, changes: dict[str, Any]) -> Audience:
        """Return a copy with some JSON fields changed, validated like a new one."""
        return from_json_dict(Audience, {**to_json_dict(self), **changes})


@dataclasses.dataclass(frozen=True)
class EmulatorConfig:
    """Everything the emulator serves; `PUT /_emulator/config` replaces it whole."""

    clients: tuple[Client, ...] = ()
    audiences: tuple[Audience, ...] = ()
    token_lifetime_seconds: int = 300
    token_key: TokenKey = "access_token"  # noqa: S105 - a key name, not a secret
    include_exp_claim: bool = True
    include_expires_in: bool = True
    latency_seconds: float = 0.0

    def __post_init__(self) -> None:
        """Reject settings that make the emulator ambiguous or unusable."""
        if self.token_lifetime_seconds <= 0 or self.latency_seconds < 0:
            msg = "token_lifetime_seconds must be > 0 and latency_seconds >= 0"
            raise ConfigError(msg)
        ids = [audience.audience_id for audience in self.audiences]
        if len(set(ids)) != len(ids):
            msg = "audience ids must be unique"
            raise ConfigError(msg)
        slugs = [
            (a.institution_id, a.slug) for a in self.audiences if a.slug is not None
        ]
        if len(set(slugs)) != len(slugs):
            msg = "slugs must be unique within an institution"
            raise ConfigError(msg)

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Load a config from its JSON form (as in `--config FILE.json`)."""
        return from_json_dict(cls, data)

    def to_dict(self) -> dict[str, Any]:
        """Dump the config to its JSON form."""
        return to_json_dict(self)

    def find(self, id_or_slug: str, institution_id: str | None) -> Audience | None:
        """Resolve a URL's `{id_or_slug}` at one institution, as MX does.

        An audience id wins over a slug; the same slug at two institutions
        names two audiences.
        """
        here = [a for a in self.audiences if a.institution_id == institution_id]
        return next((a for a in here if a.audience_id == id_or_slug), None) or next(
            (a for a in here if a.slug == id_or_slug), None
        )

    def audience(self, audience_id: str) -> Audience | None:
        """Find an audience by its id (admin paths use ids, not slugs)."""
        return next((a for a in self.audiences if a.audience_id == audience_id), None)

    def with_audience(self, audience: Audience) -> EmulatorConfig:
        """Return a copy where `audience` replaces the one with its id, or is added."""
        if self.audience(audience.audience_id) is None:
            return dataclasses.replace(self, audiences=(*self.audiences, audience))
        audiences = tuple(
            audience if a.audience_id == audience.audience_id else a
            for a in self.audiences
        )
        return dataclasses.replace(self, audiences=audiences)

    def without_audience(self, audience_id: str) -> EmulatorConfig:
        """Return a copy without the audience with this id."""
        kept = tuple(a for a in self.audiences if a.audience_id != audience_id)
        return dataclasses.replace(self, audiences=kept)
