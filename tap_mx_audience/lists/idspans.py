"""Member ids read straight from the bytes of a simple list body.

Almost every body the API sends is simple: ids of printable ASCII that need
no JSON escaping, joined by one exact delimiter (`","` inside a compact JSON
array, `", "` or a comma, a line break and indentation between quotes in a
spaced or pretty-printed one, the line ending in a one-column CSV). Such a
span of the file is cut into whole ids with C-level byte operations (`rfind`,
`split`, `translate`) instead of a parser's per-id events. A body is only
treated this way after `scan_span` proved the span simple; anything else goes
to the parsers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

BLOCK_BYTES = 1 << 18
MAX_ID_LENGTH = 512
MAX_DELIMITER_BYTES = 64
"""Longer whitespace between ids is left to the parsers. The bound keeps every
delimiter shorter than the end and start of a RECORD line that replace it."""
PRINTABLE_ASCII = bytes(range(0x20, 0x7F))


@dataclass(frozen=True)
class IdSpan:
    """Bytes [start, stop) of a body: its member ids joined by `delimiter`."""

    start: int
    stop: int
    delimiter: bytes


def id_blocks(file: IO[bytes], span: IdSpan) -> Iterator[bytes]:
    """Yield the span in blocks of whole ids, each block joined by the delimiter.

    A block's worth of bytes without a delimiter (never in a simple span, whose
    ids are short) is yielded as it is, so scanning any span stays linear.
    """
    delimiter = span.delimiter
    file.seek(span.start)
    left = span.stop - span.start
    carry = b""
    while left > 0 and (block := file.read(min(BLOCK_BYTES, left))):
        left -= len(block)
        buffer = carry + block
        cut = buffer.rfind(delimiter) if left else -1
        if cut < 0:  # the span's end, or a whole block without a delimiter
            cut = len(buffer)
        yield buffer[:cut]
        carry = buffer[cut + len(delimiter) :]


def scan_span(
    file: IO[bytes],
    span: IdSpan,
    id_bytes: bytes,
    on_ids: Callable[[list[bytes]], None],
) -> bool:
    """Hand every id of the span to `on_ids`; False as soon as it is not simple.

    Simple means: every id is non-empty, at most `MAX_ID_LENGTH` long and made
    only of `id_bytes`, which must not hold any byte of the delimiter that
    `id_bytes` does not also allow. Deleting the allowed bytes then leaves
    exactly the delimiters' other bytes, so one length comparison per block
    proves that the block is nothing but ids and delimiters.
    """
    leftover = len(span.delimiter.translate(None, id_bytes))
    for block in id_blocks(file, span):
        ids = block.split(span.delimiter)
        if (
            len(block.translate(None, id_bytes)) != leftover * (len(ids) - 1)
            or b"" in ids
            or max(map(len, ids)) > MAX_ID_LENGTH
        ):
            return False
        on_ids(ids)
    return True


def find_byte(file: IO[bytes], start: int, byte: bytes) -> int | None:
    """The file offset of the first `byte` at or after `start`, if any."""
    file.seek(start)
    position = start
    while block := file.read(BLOCK_BYTES):
        found = block.find(byte)
        if found >= 0:
            return position + found
        position += len(block)
    return None


def read_at(file: IO[bytes], offset: int, size: int) -> bytes:
    """Up to `size` bytes of the file from `offset`."""
    file.seek(offset)
    return file.read(size)
