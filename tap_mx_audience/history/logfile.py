"""The log's file format: member ids by hash bucket, in runs by stint.

Two kinds of file share it: a table (every open stint of an audience after
one observation) and a closed segment (the stints one observation closed).
In both, each of the 256 buckets holds runs: the ids whose stint the same
observation opened, under that observation's sequence number. Most members
of a table share a few runs, so a stint's start costs nothing per member.

Layout (little-endian):

    preamble  magic (8 bytes), format version u16, file size u64,
              header offset u64, header length u32
    256 x     frame: bucket u16, run count u32, data length u32, xxh3-64 of
              the run table and the data u64; run table: per run, opened
              sequence u64, id count u32, byte length u32; data: each run's
              ids as newline-terminated UTF-8 lines (`buckets.encode_ids`)
    header    JSON, at the header offset: what the file is about

Each frame is checked before its ids are used and the size before any frame,
so a cut-short or corrupt file is refused, never read as a smaller list. The
ids are stored uncompressed: zlib cost more than the rest of a day's run.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import xxhash

from tap_mx_audience.history.buckets import BUCKETS, decode_ids, encode_ids

TABLE_MAGIC = b"MXTABLE\n"
CLOSED_MAGIC = b"MXCLOSE\n"
FORMAT_VERSION = 1
MAX_HEADER_BYTES = 64 << 20

_PREAMBLE = struct.Struct("<8sHQQI")
_FRAME = struct.Struct("<HIIQ")
_RUN = struct.Struct("<QII")


class LogFileError(ValueError):
    """A log file is cut short, corrupt, or not the kind of file expected."""


@dataclass(frozen=True)
class Run:
    """Ids of one bucket whose stints one observation opened, as stored."""

    opened: int
    count: int
    data: bytes

    @classmethod
    def of(cls, opened: int, ids: list[bytes]) -> Run:
        """A run of these ids (UTF-8), opened at sequence `opened`."""
        return cls(opened, len(ids), encode_ids(ids))

    def ids(self) -> list[bytes]:
        """The run's ids, as UTF-8."""
        return decode_ids(self.data)

    def with_ids(self, ids: list[bytes]) -> Run:
        """A run of the same opening with some of this run's ids.

        Ids of a run stored without an escape need none: joined as they are.
        """
        if b"\\" in self.data:
            return Run.of(self.opened, ids)
        return Run(self.opened, len(ids), b"\n".join(ids) + b"\n" if ids else b"")


Bucket = list[Run]


class LogFileWriter:
    """Writes one log file to a seekable file, bucket by bucket, header last."""

    def __init__(self, file: IO[bytes], magic: bytes) -> None:
        """Leave room for the preamble, which is written once the size is known."""
        self._file = file
        self._magic = magic
        self._buckets = 0
        file.write(_PREAMBLE.pack(magic, FORMAT_VERSION, 0, 0, 0))

    def add(self, runs: Bucket) -> None:
        """Write the next bucket's frame."""
        table = b"".join(
            _RUN.pack(run.opened, run.count, len(run.data)) for run in runs
        )
        checksum = xxhash.xxh3_64(table)
        for run in runs:
            checksum.update(run.data)
        data_length = sum(len(run.data) for run in runs)
        self._file.write(
            _FRAME.pack(self._buckets, len(runs), data_length, checksum.intdigest())
        )
        self._file.write(table)
        self._file.writelines(run.data for run in runs)
        self._buckets += 1

    def finish(self, header: dict[str, Any]) -> None:
        """Write the header after the last bucket, then the preamble that finds it."""
        if self._buckets != BUCKETS:
            msg = f"a log file needs {BUCKETS} buckets, not {self._buckets}"
            raise ValueError(msg)
        encoded = json.dumps(header, separators=(",", ":")).encode()
        offset = self._file.tell()
        self._file.write(encoded)
        size = self._file.tell()
        self._file.seek(0)
        self._file.write(
            _PREAMBLE.pack(self._magic, FORMAT_VERSION, size, offset, len(encoded))
        )
        self._file.seek(size)


class LogFileReader:
    """One log file on local disk: its header now, its buckets in order on demand."""

    def __init__(self, file: IO[bytes], magic: bytes) -> None:
        """Check the preamble, the size and the header; LogFileError if any is wrong."""
        self._file = file
        size = file.seek(0, 2)

        def read(start: int, length: int) -> bytes:
            file.seek(start)
            return file.read(length)

        self.header, self._frames_end = read_header(read, magic, size)

    def verify(self) -> None:
        """Check every frame now, so that reading the buckets later cannot fail."""
        for _ in self.buckets():
            pass

    def buckets(self) -> Iterator[Bucket]:
        """Each bucket's runs, 0 to 255; a corrupt frame raises before it is used."""
        file = self._file
        file.seek(_PREAMBLE.size)
        for index in range(BUCKETS):
            bucket, run_count, data_length, checksum = _unpack(
                _FRAME, file.read(_FRAME.size)
            )
            table = file.read(run_count * _RUN.size)
            data = file.read(data_length)
            if (
                bucket != index
                or len(table) != run_count * _RUN.size
                or len(data) != data_length
            ):
                msg = f"is corrupt at bucket {index}"
                raise LogFileError(msg)
            digest = xxhash.xxh3_64(table)
            digest.update(data)
            if digest.intdigest() != checksum:
                msg = f"fails the checksum of bucket {index}"
                raise LogFileError(msg)
            yield _runs(table, data, index)
        if file.tell() != self._frames_end:
            msg = "has bytes between its last bucket and its header"
            raise LogFileError(msg)


def read_header(
    read: Callable[[int, int], bytes], magic: bytes, size: int | None = None
) -> tuple[dict[str, Any], int]:
    """A log file's header, and where its frames end, from `read(start, length)`.

    With `size` (the file's actual size) a file cut short or grown is refused
    here; without it (a look at a remote file's header only) the frames are
    checked when the file is read whole.
    """
    found, version, declared, offset, length = _unpack(
        _PREAMBLE, read(0, _PREAMBLE.size)
    )
    if found != magic:
        msg = "is not a log file of the expected kind"
        raise LogFileError(msg)
    if version != FORMAT_VERSION:
        msg = f"has format version {version}; this tap reads {FORMAT_VERSION}"
        raise LogFileError(msg)
    if size is not None and size != declared:
        msg = f"is {size} bytes, not the {declared} it was written with"
        raise LogFileError(msg)
    if length > MAX_HEADER_BYTES or offset + length != declared:
        msg = "has a corrupt preamble"
        raise LogFileError(msg)
    try:
        header = json.loads(read(offset, length))
    except ValueError as exc:  # UnicodeDecodeError is a ValueError
        msg = "has a corrupt header"
        raise LogFileError(msg) from exc
    if not isinstance(header, dict):
        msg = "has a corrupt header"
        raise LogFileError(msg)
    return header, offset


def _runs(table: bytes, data: bytes, index: int) -> Bucket:
    runs: Bucket = []
    start = 0
    for opened, count, length in _RUN.iter_unpack(table):
        chunk = data[start : start + length]
        if chunk.count(b"\n") != count:
            msg = f"is corrupt in bucket {index}"
            raise LogFileError(msg)
        runs.append(Run(opened, count, chunk))
        start += length
    return runs


def _unpack(layout: struct.Struct, data: bytes) -> tuple[Any, ...]:
    if len(data) != layout.size:
        msg = "is cut short"
        raise LogFileError(msg)
    return layout.unpack(data)
