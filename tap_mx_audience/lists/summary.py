"""What one pass over a list body establishes, shared by the JSON and CSV readers."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import IO

import xxhash

from tap_mx_audience.dates import optional_date
from tap_mx_audience.lists.idspans import MAX_ID_LENGTH, IdSpan

BATCH_SIZE = 16_384
READ_BUFFER_BYTES = 1 << 20
MAX_FRAME_BYTES = 1 << 16
UTF8_BOM = b"\xef\xbb\xbf"


class MalformedListError(ValueError):
    """A downloaded list is not a complete, well-formed audience list."""


@dataclass(frozen=True)
class BodySummary:
    """What one pass over a list body tells about it."""

    audience_id: str | None
    institution_id: str | None
    declared_count: int | None
    updated_on: datetime.date | None
    member_count: int
    fingerprint: str
    span: IdSpan | None
    """Where the ids sit when the body is simple; None sends readers to the parsers."""


class MemberFingerprint:
    """An order-independent digest of a multiset of member ids.

    The sum of each id's 64-bit xxh3 hash, with the number of ids: the same
    members in another order or with other whitespace give the same value.
    """

    def __init__(self) -> None:
        """Start empty."""
        self._total = 0
        self.count = 0

    def add(self, ids: list[bytes]) -> None:
        """Fold a batch of UTF-8 ids into the digest."""
        self._total += sum(map(xxhash.xxh3_64_intdigest, ids))
        self.count += len(ids)

    def add_hashes(self, hashes: list[int]) -> None:
        """Fold in ids already hashed with xxh3_64 (bucketing hashes them anyway)."""
        self._total += sum(hashes)
        self.count += len(hashes)

    def add_checked(self, ids: list[str]) -> None:
        """Check a batch of parsed ids, then fold it in."""
        check_ids(ids, self.count)
        self.add(list(map(str.encode, ids)))

    @property
    def digest(self) -> str:
        """The digest as stored in state."""
        return f"xxh3sum:{self.count}:{self._total % (1 << 64):016x}"


def check_ids(batch: list[str], seen_before: int) -> None:
    """Reject empty or absurdly long ids, naming the first offender's position."""
    if "" in batch:
        position = seen_before + batch.index("") + 1
        msg = f"member #{position} is an empty id"
        raise MalformedListError(msg)
    if max(map(len, batch)) > MAX_ID_LENGTH:
        longest = max(range(len(batch)), key=lambda i: len(batch[i]))
        msg = (
            f"member #{seen_before + longest + 1} is longer than "
            f"{MAX_ID_LENGTH} characters, not a member id"
        )
        raise MalformedListError(msg)


def skip_bom(file: IO[bytes]) -> None:
    """Step over a UTF-8 byte order mark, if the body starts with one."""
    if file.read(len(UTF8_BOM)) != UTF8_BOM:
        file.seek(0)


def body_date(value: object, field: str) -> datetime.date | None:
    """A body's date field, or None if it has none; `MalformedListError` if no date."""
    try:
        return optional_date(value)
    except ValueError:
        msg = f"'{field}' is not a date (YYYY-MM-DD)"
        raise MalformedListError(msg) from None
