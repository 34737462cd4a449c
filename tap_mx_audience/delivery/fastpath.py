"""When member records may skip singer-sdk's per-record pipeline.

The fast path (`output/lines.py`) writes RECORD lines directly; it is used
only when the SDK could not have written other records: no dry-run record
limit, no BATCH messages, no stream maps, flattening or deselected
properties. Otherwise the records go through the SDK, and the log says why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from singer_sdk.mapper import SameRecordTransform

if TYPE_CHECKING:
    from singer_sdk.streams import Stream


def sdk_path_reason(stream: Stream) -> str | None:
    """Why the SDK could write other records than the fast path; None if it cannot."""
    if stream.ABORT_AT_RECORD_COUNT is not None:
        return "a dry run's record limit"
    if stream.get_batch_config(stream.config) is not None:
        return "BATCH messages"
    return record_transforms(stream)


def record_transforms(stream: Stream) -> str | None:
    """What singer-sdk would change in a stream's records on their way out.

    Stream maps, flattening, or deselected properties dropped; None if the
    records go out exactly as the stream yields them.
    """
    maps = stream.stream_maps
    if (
        len(maps) != 1
        or type(maps[0]) is not SameRecordTransform
        or maps[0].stream_alias != stream.name
    ):
        return "stream maps"
    if maps[0].flattening_enabled:
        return "flattening"
    deselected = [
        name
        for name in stream.schema["properties"]
        if not stream.mask[("properties", name)]
    ]
    if deselected:
        return f"deselected properties: {', '.join(deselected)}"
    return None
