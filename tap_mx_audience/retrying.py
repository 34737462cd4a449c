"""The one retry helper: the API client and the snapshot store both go through it.

Each caller states its policy (which failures are transient, how many tries,
how long to wait, how a failure reads in the log); the helper runs the call
with `backoff` and logs every retry the same way, whichever part of the tap
made the call.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

import backoff

logger = logging.getLogger("tap-mx-audience")

_Result = TypeVar("_Result")


def _never_asked(_: Exception) -> float | None:
    return None


@dataclass(frozen=True)
class RetryPolicy:
    """What is worth another try, how often, and how long to wait before it.

    The wait doubles from `first_wait_seconds` up to `max_wait_seconds`
    (times a random factor from 0.5 to 1 with `jitter`), unless `asked_wait`
    reads a wait from the failure itself (an HTTP `Retry-After`).
    """

    tries: int
    transient: Callable[[Exception], bool]
    first_wait_seconds: float
    max_wait_seconds: float
    jitter: bool = False
    asked_wait: Callable[[Exception], float | None] = _never_asked
    describe: Callable[[Exception], str] = str

    def waits(self) -> Generator[float, Any, None]:
        """The backoff wait generator: sent each failure, yields the next wait."""
        attempt = 0
        failure = yield 0.0
        while True:
            wait = self.asked_wait(failure)
            if wait is None:
                wait = min(self.max_wait_seconds, self.first_wait_seconds * 2**attempt)
                if self.jitter:
                    wait *= random.uniform(0.5, 1)  # noqa: S311 - not cryptographic
            attempt += 1
            failure = yield wait


def retried(policy: RetryPolicy, what: str, call: Callable[[], _Result]) -> _Result:
    """Run `call`, retrying its transient failures; the last one is raised as is.

    `what` names the call in the WARNING logged before each retry: an
    audience, the token endpoint, a store action.
    """

    def log(details: Any) -> None:  # noqa: ANN401 - backoff's details dict
        logger.warning(
            "%s: %s; retry %d in %.2fs",
            what,
            policy.describe(details["exception"]),
            details["tries"],
            details["wait"],
        )

    runner = backoff.on_exception(
        policy.waits,
        Exception,
        giveup=lambda failure: not policy.transient(failure),
        max_tries=policy.tries,
        jitter=None,
        logger=None,
        on_backoff=log,
    )(call)
    return runner()
