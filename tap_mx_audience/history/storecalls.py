"""Calls to the snapshot store: retried while transient, then one line.

Cloud filesystems raise many kinds of errors (OSError subclasses, botocore's
connection errors, HTTP client errors), so anything but a missing file or
denied access is taken as worth a few more tries with a growing wait; what
still fails becomes one line naming the store URL without credentials.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from tap_mx_audience.errors import TapMxAudienceError
from tap_mx_audience.retrying import RetryPolicy, retried

SETTING = "snapshot_store"
MAX_WAIT_SECONDS = 30.0
_Result = TypeVar("_Result")


class SnapshotStoreError(TapMxAudienceError):
    """The store could not be reached or refused access, after any retries."""


class SnapshotError(TapMxAudienceError):
    """A snapshot that should be there is missing, cut short or corrupt."""


def redacted(url: str) -> str:
    """The store URL as messages show it: no credentials, query or fragment."""
    parts = urlsplit(url)
    if not parts.scheme:
        return url
    return f"{parts.scheme}://{parts.hostname or ''}{parts.path}"


class StoreCalls:
    """Runs store calls with the retry policy of one store."""

    def __init__(self, label: str, tries: int, first_wait_seconds: float) -> None:
        """Keep the store's printable name and how hard to try."""
        self.label = label
        self._tries = tries
        self._policy = RetryPolicy(
            tries=tries,
            transient=lambda exc: not _permanent(exc),
            first_wait_seconds=first_wait_seconds,
            max_wait_seconds=MAX_WAIT_SECONDS,
            describe=_brief,
        )

    def __call__(
        self, action: str, call: Callable[[], _Result], missing: str | None = None
    ) -> _Result:
        """Run one store call, retrying what may be transient; then fail in one line.

        A missing file is the snapshot `missing` names, when reading one; a
        missing bucket or folder on a write is the store's problem.
        """
        try:
            return retried(self._policy, f"{SETTING} '{self.label}': {action}", call)
        except FileNotFoundError as exc:
            if missing is not None:
                raise SnapshotError(f"{missing} is missing") from exc
            raise self._failed(action, exc, 1) from exc
        except Exception as exc:
            raise self._failed(
                action, exc, 1 if _permanent(exc) else self._tries
            ) from exc

    def _failed(self, action: str, exc: Exception, tries: int) -> SnapshotStoreError:
        return SnapshotStoreError(
            f"{SETTING} '{self.label}': {action} failed after {tries} "
            f"{'try' if tries == 1 else 'tries'} ({_brief(exc)})"
        )


def _permanent(exc: Exception) -> bool:
    """Failures no retry can fix: a missing file, denied access, our own errors."""
    return isinstance(
        exc,
        FileNotFoundError
        | PermissionError
        | IsADirectoryError
        | NotADirectoryError
        | TapMxAudienceError,
    )


def _brief(exc: BaseException) -> str:
    """An exception as one short line without URL credentials or queries."""
    text = re.sub(r"//[^/@\s]*@", "//", str(exc))
    text = re.sub(r"\?[^\s\"']*", "", text)
    return f"{type(exc).__name__}: {' '.join(text.split())[:200]}"
