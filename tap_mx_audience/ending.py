"""How a run of the tap command ends when it does not simply return.

A failure the tap can name ends with one line and exit 1; a stdout nobody
reads any more ends the run at once; a signal ends it with 128 + n within
`STOP_DEADLINE_SECONDS`, whatever stdout does. Each of these leaves through
`leave`, which does not wait for downloads still running ahead: nobody will
read them, and a stalled one could hold the process for minutes. A `--test`
run's planned stop after its first records is no error, and is not logged
as one.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Collection, Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, NoReturn

from singer_sdk.exceptions import (
    AbortedSyncFailedException,
    AbortedSyncPausedException,
    MaxRecordsLimitException,
)
from typing_extensions import override

from tap_mx_audience.errors import TapMxAudienceError
from tap_mx_audience.output.writer import StdoutClosedError
from tap_mx_audience.scratch import remove_scratch_directory

if TYPE_CHECKING:
    from types import FrameType

    from singer_sdk.streams import Stream

EXIT_FAILED = 1
STOP_DEADLINE_SECONDS = 5.0
STDOUT_CLOSED = (
    "stdout was closed (the target stopped reading): "
    "the run ends here, without the audiences not yet delivered"
)


def leave(status: int) -> NoReturn:
    """End the process now; what was logged or written is flushed first.

    Threads still downloading are not waited for, as they would be by a
    normal interpreter exit. `os._exit` runs no exit handlers: the scratch
    folder, with the member ids in it, is removed here.
    """
    remove_scratch_directory()
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError):  # a closed pipe has nothing left to flush to
            stream.flush()
    logging.shutdown()
    os._exit(status)


@contextmanager
def one_line_failures(logger: logging.Logger) -> Iterator[None]:
    """Turn what the tap reports into one line on stderr and exit 1."""
    try:
        yield
    except TapMxAudienceError as exc:
        logger.error("%s", exc)  # noqa: TRY400 - one line, no traceback
        leave(EXIT_FAILED)
    except StdoutClosedError:
        logger.error(STDOUT_CLOSED)  # noqa: TRY400 - nothing to trace back
        leave(EXIT_FAILED)


def start_stop_deadline(signum: int, logger: logging.Logger) -> None:
    """Leave with 128 + `signum` in a few seconds, even if stdout never drains.

    A target that stopped reading blocks every write: the final STATE can
    then not be written, and waiting for it would wait forever. The deadline
    is an alarm signal, not a thread: a signal handler runs even while the
    main thread is blocked writing, and starting a thread from a handler
    could deadlock on a lock the interrupted code holds.
    """

    def give_up(_alarm: int, _frame: FrameType | None) -> None:
        logger.warning(
            "Stopped by signal %d, but stdout did not take the output within "
            "%.0f s (is the target reading?): leaving without the final STATE",
            signum,
            STOP_DEADLINE_SECONDS,
        )
        leave(128 + signum)

    if signal.getitimer(signal.ITIMER_REAL)[0]:
        return  # a second signal does not push the first one's deadline back
    signal.signal(signal.SIGALRM, give_up)
    signal.setitimer(signal.ITIMER_REAL, STOP_DEADLINE_SECONDS)


@contextmanager
def quiet_dry_run_stops(streams: Collection[Stream]) -> Iterator[None]:
    """Keep singer-sdk from logging its own dry-run stop as an unhandled error."""
    quiet = _DryRunStopFilter()
    for stream in streams:
        stream.logger.addFilter(quiet)
    try:
        yield
    finally:
        for stream in streams:
            stream.logger.removeFilter(quiet)


class _DryRunStopFilter(logging.Filter):
    """Drops what is logged while a record-limit stop is being handled.

    `Stream.sync` logs "An unhandled error occurred" for any exception, the
    `AbortedSync...` that its own record limit raises included.
    """

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        stop = sys.exc_info()[1]
        return not (
            isinstance(stop, AbortedSyncFailedException | AbortedSyncPausedException)
            and isinstance(stop.__cause__, MaxRecordsLimitException)
        )
