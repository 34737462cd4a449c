"""Calls to the snapshot store: retried while transient, once per run, then one line.

Cloud filesystems raise many kinds of errors (OSError subclasses, botocore's
connection errors, HTTP client errors), so anything but a missing file,
denied access or a bad path is worth a few more tries with a growing wait.
A store still failing after them is taken as down for the rest of the run:
every later call fails at once with the same line, so hundreds of audiences
fail in seconds, not in hours of retries. Messages name the store URL
without credentials, never an option's value.
"""

from __future__ import annotations

import errno
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


class StoreFileMissingError(TapMxAudienceError):
    """A file that should be in the store is not (names the file's path)."""


def redacted(url: str) -> str:
    """The store URL as messages show it: no credentials, query or fragment."""
    parts = urlsplit(url)
    if not parts.scheme or "://" not in url:
        return url
    return f"{parts.scheme}://{parts.hostname or ''}{parts.path}"


class StoreCalls:
    """Runs the calls to one store with its retry policy and its run-wide health."""

    def __init__(self, label: str, tries: int, first_wait_seconds: float) -> None:
        """Keep the store's printable name and how hard to try."""
        self.label = label
        self._tries = tries
        self._down: SnapshotStoreError | None = None
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

        With `missing` (a path), a missing file is `StoreFileMissingError`;
        otherwise it is the store's problem, like any permanent failure. A
        name that exists already (`FileExistsError`) is the caller's to handle.
        """
        if self._down is not None:
            raise self._down
        try:
            return retried(self._policy, f"{SETTING} '{self.label}': {action}", call)
        except FileExistsError:
            raise
        except FileNotFoundError as exc:
            if missing is not None:
                raise StoreFileMissingError(missing) from exc
            raise self._failed(action, exc, 1) from exc
        except Exception as exc:
            if _permanent(exc):
                raise self._failed(action, exc, 1) from exc
            self._down = SnapshotStoreError(
                f"{self._failed(action, exc, self._tries)}; not tried again in this run"
            )
            raise self._down from exc

    def _failed(self, action: str, exc: Exception, tries: int) -> SnapshotStoreError:
        return SnapshotStoreError(
            f"{SETTING} '{self.label}': {action} failed after {tries} "
            f"{'try' if tries == 1 else 'tries'} ({_brief(exc)})"
        )


_PERMANENT_ERRNOS = frozenset(
    (errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENAMETOOLONG, errno.ELOOP)
)


_QUOTES_ITS_INPUT = frozenset({"ParamValidationError"})
"""botocore's errors that quote a request's parameters (an option's value)."""


def _permanent(exc: Exception) -> bool:
    """Failures no retry can fix: a missing file, denied access, a bad path, ours."""
    if type(exc).__name__ in _QUOTES_ITS_INPUT:
        return True
    return isinstance(
        exc,
        FileNotFoundError
        | FileExistsError
        | PermissionError
        | IsADirectoryError
        | NotADirectoryError
        | TapMxAudienceError,
    ) or (isinstance(exc, OSError) and exc.errno in _PERMANENT_ERRNOS)


def _brief(exc: BaseException) -> str:
    """An exception as one short line without URL credentials, queries or inputs."""
    if type(exc).__name__ in _QUOTES_ITS_INPUT:
        return f"{type(exc).__name__}: a value in snapshot_store_options is refused"
    text = re.sub(r"//[^/@\s]*@", "//", str(exc))
    text = re.sub(r"\?[^\s\"']*", "", text)
    return f"{type(exc).__name__}: {' '.join(text.split())[:200]}"
