"""What is worth another try, and how long to wait before it.

The list and token endpoints share one notion of "transient": the statuses a
gateway answers when busy or briefly down, and the server's `Retry-After`.
"""

from __future__ import annotations

import datetime
import email.utils
import logging
import random
from collections.abc import Callable, Generator
from http import HTTPStatus
from typing import Any, TypeVar

import backoff

from tap_mx_audience.errors import ApiError

logger = logging.getLogger("tap-mx-audience")

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

_Call = TypeVar("_Call", bound=Callable[..., Any])


class RetryableError(ApiError):
    """A failure worth another try, with the server's requested wait if any."""

    def __init__(
        self, message: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        """Keep the server's `Retry-After`, in seconds, when it sent one."""
        super().__init__(message, status)
        self.retry_after = retry_after


def retrying(
    *, max_retries: int, max_retry_after_seconds: float
) -> Callable[[_Call], _Call]:
    """Retry a call on `RetryableError`, up to `max_retries` times."""
    decorate: Callable[[_Call], _Call] = backoff.on_exception(
        _retry_waits,
        RetryableError,
        max_tries=max_retries + 1,
        jitter=None,
        logger=None,
        on_backoff=_log_backoff,
        max_retry_after=max_retry_after_seconds,
    )
    return decorate


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


def _retry_waits(max_retry_after: float) -> Generator[float, Any, None]:
    """Wait what `Retry-After` asks (bounded), else exponential backoff with jitter."""
    attempt = 0
    error = yield 0.0
    while True:
        attempt += 1
        asked = getattr(error, "retry_after", None)
        if asked is not None:
            wait = min(asked, max_retry_after)
        else:
            wait = min(MAX_BACKOFF_SECONDS, 0.5 * 2**attempt) * random.uniform(0.5, 1)  # noqa: S311
        error = yield wait


def _log_backoff(details: Any) -> None:  # noqa: ANN401 - backoff's details dict
    """Log a retry, naming the audience being downloaded if there is one."""
    arguments = details["args"]
    logger.warning(
        "%s: %s; retry %d in %.1fs",
        arguments[0].label if arguments else "MX token endpoint",
        details["exception"],
        details["tries"],
        details["wait"],
    )
