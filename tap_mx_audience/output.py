"""A Singer message writer that batches its own output.

singer-sdk's writers flush stdout after every message; with PYTHONUNBUFFERED
(set by many orchestrators) that is one system call per record. This writer
keeps RECORD messages in memory and writes them in large blocks; any other
message (SCHEMA, STATE, ...) flushes, so a state never reaches the target
ahead of the records it covers and nothing but records ever waits.
"""

from __future__ import annotations

import sys

from singer_sdk.singerlib import Message, SingerMessageType
from singer_sdk.singerlib.encoding import GenericSingerWriter
from singer_sdk.singerlib.json import serialize_json
from typing_extensions import override

FLUSH_BYTES = 1 << 20


class BufferedSingerWriter(GenericSingerWriter[bytes, Message]):
    """Buffers serialized messages and raw record lines for stdout."""

    def __init__(self) -> None:
        """Start with an empty buffer."""
        self._buffer = bytearray()

    @override
    def serialize_message(self, message: Message) -> bytes:
        return serialize_json(message.to_dict()).encode() + b"\n"

    @override
    def write_message(self, message: Message) -> None:
        self._buffer += self.format_message(message)
        if message.type != SingerMessageType.RECORD or len(self._buffer) >= FLUSH_BYTES:
            self.flush()

    def write_lines(self, lines: bytes) -> None:
        """Write ready-made message lines (the fast path's records).

        A large block goes out as it is, after what is buffered, rather than
        being copied into the buffer first.
        """
        if len(lines) >= FLUSH_BYTES:
            self.flush()
            _write_stdout(lines)
            return
        self._buffer += lines
        if len(self._buffer) >= FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        """Write everything buffered to stdout, wherever stdout points now."""
        if not self._buffer:
            return
        _write_stdout(self._buffer)
        self._buffer.clear()


def _write_stdout(data: bytes | bytearray) -> None:
    """Write bytes to stdout, after anything written to it as text."""
    stdout = sys.stdout
    stdout.flush()
    raw = getattr(stdout, "buffer", None)
    if raw is None:
        stdout.write(data.decode())
    else:
        raw.write(data)
        raw.flush()
