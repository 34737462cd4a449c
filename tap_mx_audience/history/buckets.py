"""A member list spread over 256 hash buckets on local disk.

Diffing two lists of millions of ids as Python sets would take gigabytes.
Spread by the top byte of each id's xxh3 hash (the hash the fingerprint needs
anyway), any two lists can be compared one bucket at a time: about 1/256 of a
list in memory. Ids travel through files as UTF-8 lines; the rare id holding a
newline or a backslash is escaped, so any id survives and the common case
stays in C-level bytes operations.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Self

import xxhash

from tap_mx_audience.lists.summary import MemberFingerprint
from tap_mx_audience.scratch import scratch_directory

BUCKETS = 256
BUCKET_SHIFT = 56
"""A 64-bit hash shifted right by this gives its bucket: the top 8 bits."""

SPILL_BYTES = 8 << 20
"""Ids held in memory before they go to the bucket files."""

_NEWLINE = b"\n"
_BACKSLASH = b"\\"
_ESCAPED_BACKSLASH = b"\\1"
_ESCAPED_NEWLINE = b"\\2"


def encode_ids(ids: list[bytes]) -> bytes:
    """UTF-8 ids as newline-terminated lines, escaping only when an id needs it."""
    if not ids:
        return b""
    blob = _NEWLINE.join(ids) + _NEWLINE
    if blob.count(_NEWLINE) != len(ids) or _BACKSLASH in blob:
        blob = b"".join(_escape(member) + _NEWLINE for member in ids)
    return blob


def decode_ids(blob: bytes) -> list[str]:
    """The ids `encode_ids` wrote; ValueError if the last line is unterminated."""
    text = blob.decode()
    ids = text.split("\n")
    if ids.pop():
        msg = "the last id has no line end"
        raise ValueError(msg)
    if "\\" in text:
        return [_unescape(member) if "\\" in member else member for member in ids]
    return ids


def _escape(member: bytes) -> bytes:
    return member.replace(_BACKSLASH, _ESCAPED_BACKSLASH).replace(
        _NEWLINE, _ESCAPED_NEWLINE
    )


def _unescape(member: str) -> str:
    # Every backslash starts an escape, so "\2" can only be an escaped newline.
    return member.replace("\\2", "\n").replace("\\1", "\\")


class MemberBuckets:
    """A list's ids spread over 256 buckets, with the list's fingerprint.

    Build it from the batches `ListBody.member_batches()` yields, compare
    `fingerprint` with the list's, then read it back bucket by bucket. Up to
    `spill_bytes` of ids wait in memory, so a small list never touches the
    disk; beyond that they go to one temporary file per bucket. Use it as a
    context manager: the files go away on exit, also on error.
    """

    def __init__(
        self,
        batches: Iterable[list[str]],
        directory: str | None = None,
        spill_bytes: int = SPILL_BYTES,
    ) -> None:
        """Hash and spread every id; the files are removed if this fails midway."""
        self._parent = directory
        self._spill_bytes = spill_bytes
        self._directory: Path | None = None
        self._pending: list[list[bytes]] = [[] for _ in range(BUCKETS)]
        self._spilled = [False] * BUCKETS
        fingerprint = MemberFingerprint()
        try:
            self._spread(batches, fingerprint)
        except BaseException:
            self.close()
            raise
        self.fingerprint = fingerprint.digest
        self.count = fingerprint.count

    def _spread(
        self, batches: Iterable[list[str]], fingerprint: MemberFingerprint
    ) -> None:
        pending_bytes = 0
        for batch in batches:
            encoded = list(map(str.encode, batch))
            hashes = list(map(xxhash.xxh3_64_intdigest, encoded))
            fingerprint.add_hashes(hashes)
            groups: list[list[bytes]] = [[] for _ in range(BUCKETS)]
            appenders = [group.append for group in groups]
            for member_hash, member in zip(hashes, encoded, strict=True):
                appenders[member_hash >> BUCKET_SHIFT](member)
            for pending, group in zip(self._pending, groups, strict=True):
                if group:
                    pending.append(encode_ids(group))
            pending_bytes += sum(map(len, encoded)) + len(encoded)
            if pending_bytes > self._spill_bytes:
                self._spill()
                pending_bytes = 0

    def _spill(self) -> None:
        """Append what waits in memory to the bucket files."""
        if self._directory is None:
            self._directory = Path(
                tempfile.mkdtemp(
                    prefix="mx-buckets-", dir=self._parent or scratch_directory()
                )
            )
        for index, pending in enumerate(self._pending):
            if pending:
                with (self._directory / f"{index:03d}").open("ab") as file:
                    file.writelines(pending)
                self._spilled[index] = True
                pending.clear()

    def buckets(self) -> Iterator[tuple[int, list[str]]]:
        """Each bucket's ids, from bucket 0 to 255, one bucket in memory."""
        for index, pending in enumerate(self._pending):
            blob = b"".join(pending)
            if self._spilled[index] and self._directory is not None:
                blob = (self._directory / f"{index:03d}").read_bytes() + blob
            yield index, decode_ids(blob)

    def sorted_buckets(self) -> Iterator[tuple[int, list[str]]]:
        """The same, each bucket sorted: what snapshots store (it compresses better)."""
        for index, ids in self.buckets():
            ids.sort()
            yield index, ids

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
