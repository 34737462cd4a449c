"""Writing member records without singer-sdk's per-record pipeline.

Every member record of an audience differs only in `member_id`, so the RECORD
line is built once per audience by the SDK's own serializer and cut around the
member id; a block of ids joined by a delimiter then becomes a block of RECORD
lines with one `bytes.replace`. This is used only when the SDK could not have
changed the record (see `sdk_path_reason`); otherwise the stream falls back to
the SDK path.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from singer_sdk.mapper import SameRecordTransform
from singer_sdk.singerlib import RecordMessage
from singer_sdk.singerlib.json import serialize_json

if TYPE_CHECKING:
    from singer_sdk.streams import Stream

    from tap_mx_audience.api import FetchedAudience
    from tap_mx_audience.delivery.output import BufferedSingerWriter

_PLACEHOLDER = "\x00member\x00"
# Ids with any of these need the SDK's escaping; other ids are copied verbatim.
_NEEDS_ESCAPING = re.compile(r'["\\\x00-\x1f\x7f-\U0010ffff]')


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


def write_member_records(
    writer: BufferedSingerWriter,
    stream_name: str,
    record_template: dict[str, Any],
    fetched: FetchedAudience,
) -> int:
    """Write one RECORD line per member id; return how many were written.

    `time_extracted` is when the list was downloaded, the same for all members.
    """
    message = RecordMessage(
        stream=stream_name,
        record={**record_template, "member_id": _PLACEHOLDER},
        time_extracted=fetched.download.downloaded_at,
    )
    line = serialize_json(message.to_dict()) + "\n"
    prefix, suffix = (
        half.encode() for half in line.split(serialize_json(_PLACEHOLDER)[1:-1])
    )
    delimiter, blocks = fetched.body.member_blocks(_escaped_block)
    between = suffix + prefix
    # > 0: a RECORD line's end and start are longer than any id delimiter.
    growth = len(between) - len(delimiter)
    written = 0
    for block in blocks:
        lines = block.replace(delimiter, between)
        writer.write_lines(prefix, lines, suffix)
        # Each delimiter grew into `between`: n ids had n - 1 delimiters.
        written += 1 + (len(lines) - len(block)) // growth
    return written


def _escaped_block(batch: list[str]) -> bytes:
    """Parsed ids, escaped as the SDK's serializer escapes them, one per line.

    The line break between them is never in an id copied verbatim, and never
    in the SDK's escaping of one.
    """
    if _NEEDS_ESCAPING.search("".join(batch)) is None:
        return "\n".join(batch).encode()
    return "\n".join(serialize_json(member)[1:-1] for member in batch).encode()
