"""A bounded log of the API requests the emulator answered.

Tests read it to check what a client really did (retries, token reuse, no
request sent with an expired token). It never holds a token or a secret.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
from typing import Any

MAX_RECORDS = 10_000


@dataclasses.dataclass(frozen=True)
class RequestRecord:
    """One API request."""

    time: float
    """When it arrived (seconds since the epoch)."""
    method: str
    """HTTP method."""
    path: str
    """URL path, without the query string."""
    endpoint: str
    """"token", "list" or "other"."""
    id_or_slug: str | None = None
    """The audience named in a list request's path."""
    status: int | None = None
    """The status answered; None if the connection was dropped first."""
    fault: str | None = None
    """The kind of fault that hit this request, if any."""
    token_presented: bool | None = None
    """Whether a list request carried a bearer token."""
    token_valid: bool | None = None
    """Whether that token was accepted."""
    token_expired: bool | None = None
    """Whether that token had already expired on arrival."""

    def to_dict(self) -> dict[str, Any]:
        """Dump to the admin API's JSON form."""
        return dataclasses.asdict(self)


class RequestLog:
    """The last `MAX_RECORDS` requests; thread-safe."""

    def __init__(self) -> None:
        """Start empty."""
        self._lock = threading.Lock()
        self._records: collections.deque[RequestRecord] = collections.deque(
            maxlen=MAX_RECORDS
        )

    def append(self, record: RequestRecord) -> None:
        """Record a request, forgetting the oldest past the bound."""
        with self._lock:
            self._records.append(record)

    def records(self) -> list[RequestRecord]:
        """The recorded requests, oldest first."""
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        """Forget every request."""
        with self._lock:
            self._records.clear()
