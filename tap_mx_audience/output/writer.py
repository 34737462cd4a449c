"""A Singer message writer that batches its own output.

singer-sdk's writers flush stdout after every message; with PYTHONUNBUFFERED
(set by many orchestrators) that is one system call per record. This writer
keeps RECORD messages in memory and writes them in large blocks; any other
message (SCHEMA, STATE, ...) flushes, so a state never reaches the target
ahead of the records it covers and nothing but records ever waits.

Only whole message lines are ever added, and a signal handler that must write
(the final STATE on SIGTERM) waits until a write in progress is complete, so
the output never holds a line cut in two.

Once stdout is closed (EPIPE) the writer raises `StdoutClosedError` once and
drops everything after it, so code that flushes on its way out (a stream's
`finally`) does not fail again with nobody left to read.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from singer_sdk.singerlib import Message, SingerMessageType
from singer_sdk.singerlib.encoding import GenericSingerWriter
from singer_sdk.singerlib.json import serialize_json
from typing_extensions import override

FLUSH_BYTES = 1 << 20


class StdoutClosedError(BaseException):
    """Nobody reads stdout any more: the run must end, not go on.

    A `BaseException`, like `SystemExit`: singer-sdk's handlers of `Exception`
    would log it as an unhandled error of every stream it passes through.
    """


class BufferedSingerWriter(GenericSingerWriter[bytes, Message]):
    """Buffers serialized messages and raw record lines for stdout."""

    def __init__(self) -> None:
        """Start with an empty buffer, no write in progress, stdout open."""
        self._buffer = bytearray()
        self._busy = False
        self._deferred: Callable[[], None] | None = None
        self._closed = False

    @override
    def serialize_message(self, message: Message) -> bytes:
        return serialize_json(message.to_dict()).encode() + b"\n"

    @override
    def write_message(self, message: Message) -> None:
        self._buffer += self.format_message(message)
        if message.type != SingerMessageType.RECORD or len(self._buffer) >= FLUSH_BYTES:
            self.flush()

    def write_state(self, value: Mapping[str, Any]) -> int:
        """Write a STATE message straight from the state, and flush; its size.

        The SDK's `StateMessage` would copy the whole state on the way.
        """
        line = serialize_json({"type": SingerMessageType.STATE.value, "value": value})
        data = line.encode() + b"\n"
        with self._writing():
            self._buffer += data
            self._write_buffer()
        return len(data)

    def write_lines(self, *parts: bytes) -> None:
        """Write ready-made message lines (the fast path's records).

        The parts, in order, are whole lines together; they are not joined,
        which would copy megabytes per block. A large part goes out as it is,
        after what is buffered, rather than being copied into the buffer.
        """
        with self._writing():
            for part in parts:
                if len(part) < FLUSH_BYTES:
                    self._buffer += part
                else:
                    self._write_buffer()
                    self._write(part)
            if len(self._buffer) >= FLUSH_BYTES:
                self._write_buffer()

    def flush(self) -> None:
        """Write everything buffered to stdout, wherever stdout points now."""
        with self._writing():
            self._write_buffer()

    def _write_buffer(self) -> None:
        if self._buffer:
            self._write(self._buffer)
            self._buffer.clear()

    def _write(self, data: bytes | bytearray) -> None:
        if self._closed:
            return
        try:
            _write_stdout(data)
        except BrokenPipeError:
            self._closed = True
            raise StdoutClosedError from None

    def when_idle(self, action: Callable[[], None]) -> None:
        """Run `action` now, or as soon as the write in progress is complete.

        For signal handlers, which Python runs between any two bytecodes of
        the main thread, also in the middle of a write.
        """
        if self._busy:
            self._deferred = action
        else:
            action()

    @contextmanager
    def _writing(self) -> Iterator[None]:
        self._busy = True
        try:
            yield
        finally:
            self._busy = False
            deferred, self._deferred = self._deferred, None
            if deferred is not None:
                deferred()


def _write_stdout(data: bytes | bytearray) -> None:
    """Write all the bytes to stdout, after anything written to it as text.

    Under PYTHONUNBUFFERED stdout's binary layer is a raw file, whose `write`
    may write only part of the data (a signal arriving mid-write does that):
    the rest is written until none is left.
    """
    stdout = sys.stdout
    stdout.flush()
    raw = getattr(stdout, "buffer", None)
    if raw is None:
        stdout.write(data.decode())
        return
    with memoryview(data) as view:
        written = 0
        while written < len(view):
            written += raw.write(view[written:]) or 0
    raw.flush()
