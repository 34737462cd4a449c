"""Deterministic member ids, generated on the fly so audiences can be huge.

A member id is 32 lowercase hex digits: 20 derived from the audience's seed,
then the member's index as 12 hex digits. The id of any index is known
without storing anything, ids of one seed never collide, and their byte length
is fixed, so a body's Content-Length is known before it is generated.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mx_audience_emulator.model import Audience

MEMBER_ID_LENGTH = 32
INDEX_DIGITS = 12
_BATCH = 8192


@functools.lru_cache(maxsize=256)
def seed_prefix(seed: str) -> str:
    """The 20 hex digits every member id of `seed` starts with."""
    digest_size = (MEMBER_ID_LENGTH - INDEX_DIGITS) // 2
    return hashlib.blake2b(seed.encode(), digest_size=digest_size).hexdigest()


def member_id(seed: str, index: int) -> str:
    """The id of member number `index` of `seed`."""
    return f"{seed_prefix(seed)}{index:012x}"


@dataclasses.dataclass(frozen=True)
class Membership:
    """An audience's members as index ranges of one seed plus explicit ids.

    Built once per request; small however big the audience is.
    """

    prefix: str
    ranges: tuple[range, ...]
    extras: tuple[str, ...]

    @property
    def count(self) -> int:
        """How many distinct members there are."""
        return sum(map(len, self.ranges)) + len(self.extras)


def membership(audience: Audience) -> Membership:
    """Resolve an audience's offset, size, extra and removed ids into a Membership."""
    prefix = seed_prefix(audience.member_seed)
    base = range(audience.offset, audience.offset + audience.size)
    removed = set(audience.removed_members)
    removed_indices = sorted(
        {
            index
            for member in removed
            if (index := _base_index(prefix, member, base)) is not None
        }
    )
    extras = tuple(
        extra
        for extra in dict.fromkeys(audience.extra_members)
        if extra not in removed and _base_index(prefix, extra, base) is None
    )
    return Membership(prefix, _split(base, removed_indices), extras)


def iter_member_ids(audience: Audience) -> Iterator[list[str]]:
    """Yield an audience's member ids in body order, in batches."""
    members = membership(audience)
    for indices in members.ranges:
        for start in range(indices.start, indices.stop, _BATCH):
            stop = min(start + _BATCH, indices.stop)
            yield [f"{members.prefix}{index:012x}" for index in range(start, stop)]
    if members.extras:
        yield list(members.extras)


def expected_members(audience: Audience) -> set[str]:
    """All member ids of a (small) audience, for tests to compare with a sync."""
    return {member for batch in iter_member_ids(audience) for member in batch}


def _base_index(prefix: str, member: str, base: range) -> int | None:
    """The index of a generated id within `base`, or None if it is not one."""
    suffix = member[len(prefix) :]
    if len(member) != MEMBER_ID_LENGTH or not member.startswith(prefix):
        return None
    if suffix.strip("0123456789abcdef"):
        return None
    index = int(suffix, 16)
    return index if base.start <= index < base.stop else None


def _split(base: range, holes: list[int]) -> tuple[range, ...]:
    """Cut sorted, distinct indices out of a range, leaving non-empty ranges."""
    pieces: list[range] = []
    start = base.start
    for hole in holes:
        if hole > start:
            pieces.append(range(start, hole))
        start = hole + 1
    if start < base.stop:
        pieces.append(range(start, base.stop))
    return tuple(pieces)
