"""What is worth another try on the MX API, and how long to wait before it.

The list and token endpoints share one notion of "transient": the statuses a
gateway answers when busy or briefly down, dropped connections and bodies cut
short, and the server's `Retry-After`. The retrying itself is the tap's one
helper (`retrying.py`), which the snapshot store uses too.
"""

from __future__ import annotations

import datetime
import email.utils
from http import HTTPStatus

from tap_mx_audience.errors import ApiError
from tap_mx_audience.retrying import RetryPolicy

FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
RETRYABLE_STATUSES = frozenset(
    {
        HTTPStatus.TOO_MANY_REQUESTS,
        HTTPStatus.INTERNAL_SERVER_ERROR,
        HTTPStatus.BAD_GATEWAY,
        HTTPStatus.SERVICE_UNAVAILABLE,
        HTTPStatus.GATEWAY_TIMEOUT,
    }
)


class RetryableError(ApiError):
    """A failure worth another try, with the server's requested wait if any."""

    def __init__(
        self, message: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        """Keep the server's `Retry-After`, in seconds, when it sent one."""
        super().__init__(message, status)
        self.retry_after = retry_after


def http_policy(*, max_retries: int, max_retry_after_seconds: float) -> RetryPolicy:
    """Retry `RetryableError` up to `max_retries` times, honouring `Retry-After`.

    Without a `Retry-After`: exponential backoff with jitter (1 s doubling,
    at most 30 s, times 0.5 to 1).
    """

    def asked_wait(failure: Exception) -> float | None:
        asked = getattr(failure, "retry_after", None)
        return None if asked is None else min(asked, max_retry_after_seconds)

    return RetryPolicy(
        tries=max_retries + 1,
        transient=lambda failure: isinstance(failure, RetryableError),
        first_wait_seconds=FIRST_BACKOFF_SECONDS,
        max_wait_seconds=MAX_BACKOFF_SECONDS,
        jitter=True,
        asked_wait=asked_wait,
    )


def gave_up(exc: RetryableError, max_retries: int) -> ApiError:
    """The final error once the retries of a call ran out."""
    tries = max_retries + 1
    plural = "try" if tries == 1 else "tries"
    return ApiError(f"{exc} (gave up after {tries} {plural})", exc.status)


def retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header in either of its two forms."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, (when - datetime.datetime.now(datetime.UTC)).total_seconds())
