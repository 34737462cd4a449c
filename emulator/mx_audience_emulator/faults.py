"""Fault injection: queued misbehaviours, consumed one per matching request.

Faults are what a real gateway does now and then (rate limits, 5xx, dropped
or cut connections, HTML error pages); tests queue them to prove the client
copes.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import threading
from typing import Any, Literal, Self

from mx_audience_emulator.jsonmodel import ConfigError, from_json_dict, to_json_dict

Endpoint = Literal["token", "list"]
FaultKind = Literal[
    "status",
    "drop_before_headers",
    "drop_mid_body",
    "truncate",
    "slow_body",
    "stall",
    "html_200",
    "expire_token",
    "body",
]
MAX_DELAY_SECONDS = 600.0
MIN_PIECES = 2


@dataclasses.dataclass(frozen=True)
class Fault:
    """One queued misbehaviour."""

    kind: FaultKind
    """What goes wrong (see the module's kinds in `FaultKind`)."""
    endpoint: Endpoint = "list"
    """Which endpoint it hits."""
    id_or_slug: str | None = None
    """Only list requests for this audience (its id or slug)."""
    times: int = 1
    """How many matching requests it hits."""
    status: int | None = None
    """The status of a `status` fault, or of a `body` fault (200)."""
    retry_after: str | None = None
    """`Retry-After` header value of a `status` fault."""
    body: str | None = None
    """Text body of a `status` or `body` fault."""
    body_base64: str | None = None
    """Binary body of a `body` fault (for undecodable bytes)."""
    content_type: str | None = None
    """Content type of `body`, default application/json; an empty string sends no
    Content-Type header at all.
    """
    delay_seconds: float = 0.0
    """Pause between pieces (`slow_body`) or before the close (`stall`)."""
    pieces: int = 4
    """How many pieces `slow_body` sends."""

    def __post_init__(self) -> None:
        """Reject faults whose parameters do not fit their kind."""
        problem = self._problem()
        if problem:
            msg = f"{self.kind} fault: {problem}"
            raise ConfigError(msg)
        self.payload()

    def _problem(self) -> str | None:  # noqa: PLR0911 - one line per rule reads best
        """Say what is wrong with the parameters, if anything."""
        if self.times < 1:
            return "times must be >= 1"
        if self.endpoint == "token" and self.id_or_slug is not None:
            return "id_or_slug only applies to the list endpoint"
        if self.kind == "status" and not (self.status and 100 <= self.status <= 599):  # noqa: PLR2004
            return "needs a status between 100 and 599"
        if self.status is not None and self.kind not in {"status", "body"}:
            return "takes no status"
        if self.kind == "body" and (self.body is None) == (self.body_base64 is None):
            return "needs exactly one of body and body_base64"
        if (
            self.kind in {"slow_body", "stall"}
            and not 0 < self.delay_seconds <= MAX_DELAY_SECONDS
        ):
            return f"needs 0 < delay_seconds <= {MAX_DELAY_SECONDS}"
        if self.kind == "slow_body" and (
            self.pieces < MIN_PIECES
            or (self.pieces - 1) * self.delay_seconds > MAX_DELAY_SECONDS
        ):
            return (
                f"needs pieces >= 2 and a total delay of at most {MAX_DELAY_SECONDS} s"
            )
        if self.kind == "expire_token" and self.endpoint != "list":
            return "only applies to the list endpoint"
        return None

    def payload(self) -> bytes | None:
        """The body bytes this fault serves, if it carries one."""
        if self.body_base64 is not None:
            try:
                return base64.b64decode(self.body_base64, validate=True)
            except binascii.Error:
                msg = "body_base64 is not valid base64"
                raise ConfigError(msg) from None
        return None if self.body is None else self.body.encode()

    @classmethod
    def from_dict(cls, data: object) -> Self:
        """Load a fault from its admin-API JSON form."""
        return from_json_dict(cls, data)

    def to_dict(self) -> dict[str, Any]:
        """Dump a fault to its admin-API JSON form."""
        return to_json_dict(self)


class FaultQueue:
    """Pending faults, first queued first used; thread-safe."""

    def __init__(self) -> None:
        """Start empty."""
        self._lock = threading.Lock()
        self._pending: list[Fault] = []

    def add(self, fault: Fault) -> None:
        """Queue a fault behind those already pending."""
        with self._lock:
            self._pending.append(fault)

    def clear(self) -> None:
        """Drop every pending fault."""
        with self._lock:
            self._pending.clear()

    def pending(self) -> list[Fault]:
        """The faults still queued, `times` counting the hits left."""
        with self._lock:
            return list(self._pending)

    def take(self, endpoint: Endpoint, names: set[str]) -> Fault | None:
        """Consume one hit of the first fault matching a request.

        `names` are the request's `{id_or_slug}` and the id and slug of the
        audience it resolves to (empty for token requests).
        """
        with self._lock:
            for position, fault in enumerate(self._pending):
                if fault.endpoint == endpoint and (
                    fault.id_or_slug is None or fault.id_or_slug in names
                ):
                    if fault.times == 1:
                        del self._pending[position]
                    else:
                        self._pending[position] = dataclasses.replace(
                            fault, times=fault.times - 1
                        )
                    return fault
        return None
