"""The snapshot file format: a member set, bucket by bucket, checked on read.

Layout (little-endian):

    preamble  magic "MXSNAP" CR LF, format version u16, file size u64,
              header length u32
    header    JSON: fingerprint, member_count, updated_on
    256 x     frame: bucket u16, id count u32, xxh3 sum of its ids u64,
              compressed length u32; then the bucket's ids (sorted
              newline-terminated UTF-8 lines, see `buckets.encode_ids`),
              zlib level 1

Each bucket carries its own checksum, so a reader checks it before handing
its ids out, and the whole-set fingerprint at the end; the file size in the
preamble tells a cut-short copy before any bucket is read.
"""

from __future__ import annotations

import datetime
import json
import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import xxhash

from tap_mx_audience.history.buckets import (
    BUCKET_SHIFT,
    BUCKETS,
    decode_ids,
    encode_ids,
)
from tap_mx_audience.lists.summary import MemberFingerprint

MAGIC = b"MXSNAP\r\n"
FORMAT_VERSION = 1
COMPRESSION_LEVEL = 1
HEADER_READ_BYTES = 4096
"""Enough to read any header: listing reads only this much of each snapshot."""

_PREAMBLE = struct.Struct("<8sHQI")
_FRAME = struct.Struct("<HIQI")
_HASH_MODULUS = 1 << 64


class SnapshotFormatError(ValueError):
    """A snapshot file is cut short, corrupt or not a snapshot at all."""


@dataclass(frozen=True)
class SnapshotHeader:
    """What a snapshot says about the list it holds."""

    fingerprint: str
    member_count: int
    updated_on: datetime.date


def write_snapshot(
    file: IO[bytes], header: SnapshotHeader, buckets: Iterable[tuple[int, list[str]]]
) -> None:
    """Write a whole snapshot to a seekable file (the size is filled in last)."""
    encoded_header = json.dumps(
        {
            "fingerprint": header.fingerprint,
            "member_count": header.member_count,
            "updated_on": header.updated_on.isoformat(),
        }
    ).encode()
    file.write(_PREAMBLE.pack(MAGIC, FORMAT_VERSION, 0, len(encoded_header)))
    file.write(encoded_header)
    for index, ids in buckets:
        encoded = list(map(str.encode, ids))
        total = sum(map(xxhash.xxh3_64_intdigest, encoded)) % _HASH_MODULUS
        data = zlib.compress(encode_ids(encoded), COMPRESSION_LEVEL)
        file.write(_FRAME.pack(index, len(ids), total, len(data)))
        file.write(data)
    size = file.tell()
    file.seek(0)
    file.write(_PREAMBLE.pack(MAGIC, FORMAT_VERSION, size, len(encoded_header)))


def read_header(file: IO[bytes]) -> tuple[SnapshotHeader, int]:
    """The header and the file size it declares, from the start of a file."""
    magic, version, size, length = _unpack(_PREAMBLE, file.read(_PREAMBLE.size))
    if magic != MAGIC:
        msg = "is not a snapshot file"
        raise SnapshotFormatError(msg)
    if version != FORMAT_VERSION:
        msg = f"has format version {version}; this tap reads {FORMAT_VERSION}"
        raise SnapshotFormatError(msg)
    if length > HEADER_READ_BYTES - _PREAMBLE.size:
        msg = "has a header too long to be one"
        raise SnapshotFormatError(msg)
    raw = file.read(length)
    try:
        fields = json.loads(raw)
        header = SnapshotHeader(
            fingerprint=str(fields["fingerprint"]),
            member_count=int(fields["member_count"]),
            updated_on=datetime.date.fromisoformat(fields["updated_on"]),
        )
    except (ValueError, TypeError, KeyError) as exc:
        msg = "has a corrupt header"
        raise SnapshotFormatError(msg) from exc
    return header, size


def read_buckets(
    file: IO[bytes], header: SnapshotHeader
) -> Iterator[tuple[int, list[str]]]:
    """Each bucket's ids, checked before it is handed out; the whole set at the end."""
    fingerprint = MemberFingerprint()
    for index in range(BUCKETS):
        bucket, count, total, length = _unpack(_FRAME, file.read(_FRAME.size))
        data = file.read(length)
        if bucket != index or len(data) != length:
            msg = f"is corrupt at bucket {index}"
            raise SnapshotFormatError(msg)
        try:
            ids = decode_ids(zlib.decompress(data))
        except (zlib.error, ValueError) as exc:  # UnicodeDecodeError is a ValueError
            msg = f"is corrupt in bucket {index}"
            raise SnapshotFormatError(msg) from exc
        hashes = list(map(xxhash.xxh3_64_intdigest, map(str.encode, ids)))
        if (
            len(ids) != count
            or sum(hashes) % _HASH_MODULUS != total
            or (
                hashes
                and {min(hashes) >> BUCKET_SHIFT, max(hashes) >> BUCKET_SHIFT}
                != {index}
            )
        ):
            msg = f"fails the checksum of bucket {index}"
            raise SnapshotFormatError(msg)
        fingerprint.add_hashes(hashes)
        yield index, ids
    if file.read(1):
        msg = "has bytes after its last bucket"
        raise SnapshotFormatError(msg)
    if fingerprint.digest != header.fingerprint:
        msg = f"holds a member set whose fingerprint is not {header.fingerprint}"
        raise SnapshotFormatError(msg)


def _unpack(layout: struct.Struct, data: bytes) -> tuple[Any, ...]:
    if len(data) != layout.size:
        msg = "is cut short"
        raise SnapshotFormatError(msg)
    return layout.unpack(data)
