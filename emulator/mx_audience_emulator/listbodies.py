"""The audience list response, as JSON or CSV, optionally gzipped.

Bodies are streamed from the id generator with an exact Content-Length, so a
client can tell a short body from a complete one however big the audience.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from email.utils import format_datetime
from typing import TYPE_CHECKING

from mx_audience_emulator.idstream import ItemFormat, render, rendered_length
from mx_audience_emulator.members import membership
from mx_audience_emulator.responses import JSON_TYPE, Body, Response

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mx_audience_emulator.members import Membership
    from mx_audience_emulator.model import Audience

CSV_TYPE = "text/csv; charset=utf-8"
_CSV_EXTRA_COLUMNS = ("audience_id", "institution_id", "updated_on")
_GZIP_LEVEL = 1
_GZIP_WBITS = 16 + zlib.MAX_WBITS


def list_response(audience: Audience, *, csv: bool, gzip: bool) -> Response:
    """Answer a list request for `audience` (a snapshot, safe to stream from)."""
    members = membership(audience)
    body = _csv_body(audience, members) if csv else _json_body(audience, members)
    headers: list[tuple[str, str]] = []
    if audience.last_modified:
        headers.append(
            ("Last-Modified", format_datetime(audience.updated_datetime(), usegmt=True))
        )
    if gzip:
        body = _gzipped(body)
        headers.append(("Content-Encoding", "gzip"))
    return Response(200, body, tuple(headers))


@dataclass(frozen=True)
class _JsonLayout:
    """Separators as `json.dumps` writes them; `newline` set means indent=2."""

    colon: str
    comma: str
    newline: str | None = None

    def indent(self, depth: int) -> str:
        """What opens a line at `depth`; nothing on a one-line body."""
        return "" if self.newline is None else self.newline + "  " * depth

    def separator(self, depth: int) -> str:
        """What separates two items (or fields) at `depth`."""
        return self.comma if self.newline is None else "," + self.indent(depth)


_JSON_LAYOUTS = {
    "compact": _JsonLayout(":", ","),
    "spaced_colon": _JsonLayout(": ", ","),
    "spaced_comma": _JsonLayout(":", ", "),
    "spaced": _JsonLayout(": ", ", "),
    "pretty": _JsonLayout(": ", ",", "\n"),
    "pretty_crlf": _JsonLayout(": ", ",", "\r\n"),
}


def _json_body(audience: Audience, members: Membership) -> Body:
    """The body `json.dumps` would write, keys in the audience's `key_order`."""
    layout = _JSON_LAYOUTS[audience.json_layout]
    values = {
        "audience_id": _json(audience.audience_id),
        "count": str(members.count + audience.count_delta),
        "institution_id": _json(audience.institution_id),
        "updated_on": _json(audience.updated_on),
    }
    fields = [
        f'"{key}"{layout.colon}{values.get(key, "")}' for key in audience.key_order
    ]
    between = layout.separator(1)
    if "list" not in audience.key_order:
        inside = layout.indent(1) + between.join(fields) + layout.indent(0)
        return Body.of(("{" + inside + "}" if fields else "{}").encode(), JSON_TYPE)
    at = audience.key_order.index("list")
    opened, closed = (layout.indent(2), layout.indent(1)) if members.count else ("", "")
    head = "{" + layout.indent(1) + "".join(f + between for f in fields[:at])
    head += fields[at] + "[" + opened
    tail = closed + "]" + "".join(between + f for f in fields[at + 1 :])
    tail += layout.indent(0) + "}"
    sep = layout.separator(2).encode()
    fmt = ItemFormat(b'"', b'"', sep, lambda member: _json(member).encode())
    return _framed(head.encode(), members, fmt, tail.encode(), JSON_TYPE)


def _csv_body(audience: Audience, members: Membership) -> Body:
    """One member per line, with the header and columns the audience asks for."""
    ending = "\r\n" if audience.csv_line_ending == "crlf" else "\n"
    if audience.csv_header is None:
        fmt = ItemFormat(
            b"", ending.encode(), b"", lambda member: f"{_csv(member)}{ending}".encode()
        )
        return _framed(b"", members, fmt, b"", CSV_TYPE)
    columns = [audience.csv_header]
    suffix = ""
    if audience.csv_extra_columns:
        columns.extend(_CSV_EXTRA_COLUMNS)
        extra = (audience.audience_id, audience.institution_id, audience.updated_on)
        suffix = "".join(f",{_csv(value)}" for value in extra)
    header = (",".join(columns) + ending).encode()
    after = f"{suffix}{ending}".encode()
    fmt = ItemFormat(b"", after, b"", lambda member: _csv(member).encode() + after)
    return _framed(header, members, fmt, b"", CSV_TYPE)


def _framed(
    head: bytes, members: Membership, fmt: ItemFormat, tail: bytes, content_type: str
) -> Body:
    """A body made of `head`, the rendered members and `tail`."""

    def chunks() -> Iterator[bytes]:
        yield head
        yield from render(members, fmt)
        yield tail

    length = len(head) + rendered_length(members, fmt) + len(tail)
    return Body(content_type, length, chunks)


def _gzipped(body: Body) -> Body:
    """Gzip a body, compressing twice (once to measure) to keep memory flat."""

    def chunks() -> Iterator[bytes]:
        compressor = zlib.compressobj(_GZIP_LEVEL, zlib.DEFLATED, _GZIP_WBITS)
        for chunk in body.chunks():
            compressed = compressor.compress(chunk)
            if compressed:
                yield compressed
        yield compressor.flush()

    return Body(body.content_type, sum(map(len, chunks())), chunks)


def _json(value: str) -> str:
    """A JSON string literal."""
    return json.dumps(value)


def _csv(value: str) -> str:
    """A CSV field, quoted only when it has to be."""
    if set(value) & set(',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value
