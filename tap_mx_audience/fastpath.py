"""Writing member records without singer-sdk's per-record pipeline.

Every member record of an audience differs only in `member_id`, so the RECORD
line is built once per audience by the SDK's own serializer and each member is
spliced into it. This is used only when the SDK could not have changed the
record: no stream maps or flattening, every property selected, no BATCH
messages. Otherwise the stream falls back to the SDK path.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from singer_sdk.mapper import SameRecordTransform
from singer_sdk.singerlib import RecordMessage
from singer_sdk.singerlib.json import serialize_json

if TYPE_CHECKING:
    from singer_sdk.streams import Stream

    from tap_mx_audience.output import BufferedSingerWriter

_PLACEHOLDER = "\x00member\x00"
# Ids with any of these need the SDK's escaping; other ids are copied verbatim.
_NEEDS_ESCAPING = re.compile(r'["\\\x00-\x1f\x7f-\U0010ffff]')


def sdk_would_change_records(stream: Stream) -> bool:
    """True when maps, flattening, selection, BATCH or `--test` could alter output."""
    if stream.ABORT_AT_RECORD_COUNT is not None:
        return True
    maps = stream.stream_maps
    if len(maps) != 1 or type(maps[0]) is not SameRecordTransform:
        return True
    if maps[0].stream_alias != stream.name or maps[0].flattening_enabled:
        return True
    if stream.get_batch_config(stream.config) is not None:
        return True
    properties = stream.schema["properties"]
    return not all(stream.mask[("properties", name)] for name in properties)


def write_member_records(
    writer: BufferedSingerWriter,
    stream_name: str,
    record_template: dict[str, Any],
    member_batches: Iterable[list[str]],
    time_extracted: datetime.datetime,
) -> int:
    """Write one RECORD line per member id; return how many were written."""
    message = RecordMessage(
        stream=stream_name,
        record={**record_template, "member_id": _PLACEHOLDER},
        time_extracted=time_extracted,
    )
    line = serialize_json(message.to_dict()) + "\n"
    prefix, suffix = line.split(serialize_json(_PLACEHOLDER)[1:-1])
    separator = suffix + prefix
    written = 0
    for batch in member_batches:
        joined = separator.join(batch)
        if _NEEDS_ESCAPING.search(joined):
            joined = separator.join(serialize_json(member)[1:-1] for member in batch)
        writer.write_lines(f"{prefix}{joined}{suffix}".encode())
        written += len(batch)
    return written
