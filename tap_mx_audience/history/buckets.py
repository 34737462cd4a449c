"""A served member list spread over 256 hash buckets on local disk.

Comparing a list of millions of ids with the log as Python sets would take
gigabytes. Spread by the top byte of each id's xxh3 hash, a list and the
log's files can be compared one bucket at a time: about 1/256 of a list in
memory. Ids stay UTF-8 bytes throughout and travel through files as lines;
the rare id holding a newline or a backslash is escaped, so any id survives
and the common case stays in C-level bytes operations.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import xxhash

from tap_mx_audience.scratch import scratch_directory

BUCKETS = 256
BUCKET_SHIFT = 56
"""A 64-bit hash shifted right by this gives its bucket: the top 8 bits."""

SPILL_BYTES = 8 << 20
"""Ids held in memory (counted with their Python object overhead) before they
go to the bucket files."""
_ID_OVERHEAD = 41
"""What a bytes object and its list slot cost beyond its data."""

_NEWLINE = b"\n"
_BACKSLASH = b"\\"
_ESCAPED_BACKSLASH = b"\\1"
_ESCAPED_NEWLINE = b"\\2"


def bucket_of(member: bytes) -> int:
    """The bucket of one UTF-8 id."""
    return xxhash.xxh3_64_intdigest(member) >> BUCKET_SHIFT


def encode_ids(ids: list[bytes]) -> bytes:
    """UTF-8 ids as newline-terminated lines, escaping only when an id needs it."""
    if not ids:
        return b""
    blob = _NEWLINE.join(ids) + _NEWLINE
    if blob.count(_NEWLINE) != len(ids) or _BACKSLASH in blob:
        blob = b"".join(_escape(member) + _NEWLINE for member in ids)
    return blob


def decode_ids(blob: bytes) -> list[bytes]:
    """The ids `encode_ids` wrote; ValueError if the last line is unterminated."""
    ids = blob.split(_NEWLINE)
    if ids.pop():
        msg = "the last id has no line end"
        raise ValueError(msg)
    if _BACKSLASH in blob:
        return [_unescape(member) if _BACKSLASH in member else member for member in ids]
    return ids


def _escape(member: bytes) -> bytes:
    return member.replace(_BACKSLASH, _ESCAPED_BACKSLASH).replace(
        _NEWLINE, _ESCAPED_NEWLINE
    )


def _unescape(member: bytes) -> bytes:
    # Every backslash starts an escape, so "\2" can only be an escaped newline.
    return member.replace(_ESCAPED_NEWLINE, _NEWLINE).replace(
        _ESCAPED_BACKSLASH, _BACKSLASH
    )


class MemberBuckets:
    """A list's ids spread over 256 buckets.

    Build it from the batches of UTF-8 ids `ListBody.member_id_batches()`
    yields, then read it back bucket by bucket. Up to `spill_bytes` of ids
    wait in memory, so a small list never touches the disk; beyond that they
    go to one file per bucket in `directory`. Use it as a context manager: the
    files go away on exit, also on error.
    """

    def __init__(
        self,
        batches: Iterable[list[bytes]],
        directory: str | None = None,
        spill_bytes: int = SPILL_BYTES,
    ) -> None:
        """Hash and spread every id; the files are removed if this fails midway."""
        self._parent = directory
        self._spill_bytes = spill_bytes
        self._directory: Path | None = None
        self._pending: list[list[bytes]] = [[] for _ in range(BUCKETS)]
        self._files: list[IO[bytes]] = []
        try:
            self._spread(batches)
        except BaseException:
            self.close()
            raise
        finally:
            for file in self._files:
                file.close()

    def _spread(self, batches: Iterable[list[bytes]]) -> None:
        pending_bytes = 0
        hash_of = xxhash.xxh3_64_intdigest
        appenders = [pending.append for pending in self._pending]
        for batch in batches:
            # Bucketed by the id itself, kept escaped: one check for the batch.
            stored = batch
            joined = b"/".join(batch)
            if _NEWLINE in joined or _BACKSLASH in joined:
                stored = [_escape(member) for member in batch]
            for member_hash, member in zip(map(hash_of, batch), stored, strict=True):
                appenders[member_hash >> 56](member)  # BUCKET_SHIFT, as a constant
            pending_bytes += len(joined) + 1 + len(batch) * _ID_OVERHEAD
            if pending_bytes > self._spill_bytes:
                self._spill()
                pending_bytes = 0

    def _spill(self) -> None:
        """Append what waits in memory to the bucket files (open while spreading)."""
        if self._directory is None:
            self._directory = Path(
                tempfile.mkdtemp(
                    prefix="buckets-", dir=self._parent or scratch_directory()
                )
            )
            self._files = [
                (self._directory / f"{index:03d}").open("wb")
                for index in range(BUCKETS)
            ]
        for file, pending in zip(self._files, self._pending, strict=True):
            if pending:
                file.write(_NEWLINE.join(pending) + _NEWLINE)
                pending.clear()

    def buckets(self) -> Iterator[list[bytes]]:
        """Each bucket's ids, from bucket 0 to 255, one bucket in memory."""
        for index, pending in enumerate(self._pending):
            blob = _NEWLINE.join(pending) + _NEWLINE if pending else b""
            if self._directory is not None:
                blob = (self._directory / f"{index:03d}").read_bytes() + blob
            yield decode_ids(blob)

    def close(self) -> None:
        """Remove the bucket files, if any were written."""
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)

    def __enter__(self) -> Self:
        """Use as a context manager so the files are always removed."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Remove the files, whatever happened."""
        self.close()
