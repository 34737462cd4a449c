"""The readers agree with a plain reading of any body, on either path they take."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from typing import Any

import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st

from tap_mx_audience.audience import ResponseFormat
from tap_mx_audience.lists import BodySummary, read_list
from tap_mx_audience.lists.csvlist import CSV_MEMBER_COLUMNS


def _printable_ids(excluded: str) -> st.SearchStrategy[str]:
    """Ids of printable ASCII but for `excluded`: the byte-level kind."""
    return st.text(
        st.characters(
            min_codepoint=0x20, max_codepoint=0x7E, exclude_characters=excluded
        ),
        min_size=1,
        max_size=40,
    )


# Not the quote and the backslash (JSON escapes them), nor the closing
# bracket (read as the end of the list).
SIMPLE_IDS = st.lists(_printable_ids('"\\]'), max_size=300)
ANY_IDS = st.lists(
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=20),
    max_size=100,
)


def _fingerprint(ids: list[str]) -> str:
    total = sum(xxhash.xxh3_64_intdigest(member.encode()) for member in ids)
    return f"xxh3sum:{len(ids)}:{total % (1 << 64):016x}"


def _read(
    body: bytes, response_format: ResponseFormat
) -> tuple[BodySummary, list[str]]:
    with tempfile.TemporaryFile() as file:
        file.write(body)
        read = read_list(file, response_format)
        return read.summary, [
            member for batch in read.member_batches() for member in batch
        ]


def _json_body(
    ids: list[str], *, compact: bool, list_last: bool, audience_id: str = "aud_1"
) -> bytes:
    fields = {"audience_id": audience_id, "count": len(ids), "updated_on": "2026-11-20"}
    body = {**fields, "list": ids} if list_last else {"list": ids, **fields}
    separators = (",", ":") if compact else (", ", ": ")
    return json.dumps(body, separators=separators).encode()


def _csv_body(ids: list[str], line_ending: str) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator=line_ending)
    writer.writerows([["member_id"], *([member] for member in ids)])
    return text.getvalue().encode()


@given(ids=SIMPLE_IDS, list_last=st.booleans())
def test_simple_bodies_are_read_from_their_bytes(
    ids: list[str], *, list_last: bool
) -> None:
    summary, members = _read(
        _json_body(ids, compact=True, list_last=list_last), ResponseFormat.JSON
    )
    assert summary.span is not None
    assert members == ids
    assert summary.member_count == summary.declared_count == len(ids)
    assert summary.fingerprint == _fingerprint(ids)
    assert summary.audience_id == "aud_1"


@given(SIMPLE_IDS)
def test_a_bracket_around_the_list_leaves_the_body_to_ijson(ids: list[str]) -> None:
    body = _json_body(ids, compact=True, list_last=False, audience_id="a[1]")
    summary, members = _read(body, ResponseFormat.JSON)
    assert summary.span is None
    assert members == ids
    assert summary.fingerprint == _fingerprint(ids)
    assert summary.audience_id == "a[1]"


@given(ids=ANY_IDS, compact=st.booleans(), list_last=st.booleans())
def test_any_json_body_gives_its_ids_and_fingerprint(
    ids: list[str], *, compact: bool, list_last: bool
) -> None:
    body = _json_body(ids, compact=compact, list_last=list_last)
    summary, members = _read(body, ResponseFormat.JSON)
    assert members == ids
    assert summary.fingerprint == _fingerprint(ids)


@settings(max_examples=200)
@given(ANY_IDS, st.sampled_from(["\r\n", "\n"]))
def test_any_csv_body_gives_the_json_fingerprint(
    ids: list[str], line_ending: str
) -> None:
    # csv drops rows it reads as blank, and csv.writer leaves a CR unquoted
    # under LF line endings, where it reads as a line end: such ids cannot
    # travel in a CSV body.
    ids = [
        member
        for member in ids
        if member.strip("\r\n") and not ("\r" in member and line_ending == "\n")
    ]
    csv_summary, members = _read(_csv_body(ids, line_ending), ResponseFormat.CSV)
    json_summary, _ = _read(
        _json_body(ids, compact=True, list_last=False), ResponseFormat.JSON
    )
    assert members == ids
    assert csv_summary.fingerprint == json_summary.fingerprint == _fingerprint(ids)


JSON_WHITESPACE = st.text(st.sampled_from(" \t\r\n"), max_size=6)


def _laid_out_json(ids: list[str], gaps: list[str], space: list[str]) -> bytes:
    """A JSON body whose ids are joined by `gaps`, whitespace `space` around tokens."""
    parts = [f'"{member}"' for member in ids[:1]]
    parts += [f'{gap}"{member}"' for gap, member in zip(gaps, ids[1:], strict=False)]
    items = "".join(parts)
    a, b, c, d, e = space
    return (
        f'{a}{{"audience_id"{b}:{c}"aud_1",{a}"list"{b}:{c}[{d}{items}{e}],'
        f'{d}"count"{e}:{a}{len(ids)}{b}}}{c}'
    ).encode()


@given(
    ids=SIMPLE_IDS,
    before=JSON_WHITESPACE,
    after=JSON_WHITESPACE,
    space=st.lists(JSON_WHITESPACE, min_size=5, max_size=5),
)
def test_any_uniform_json_layout_is_read_from_its_bytes(
    ids: list[str], before: str, after: str, space: list[str]
) -> None:
    gap = f"{before},{after}"
    body = _laid_out_json(ids, [gap] * len(ids), space)
    summary, members = _read(body, ResponseFormat.JSON)
    assert summary.span is not None
    if len(ids) > 1:
        assert summary.span.delimiter == f'"{gap}"'.encode()
    assert members == ids
    assert summary.member_count == summary.declared_count == len(ids)
    assert summary.fingerprint == _fingerprint(ids)
    assert summary.audience_id == "aud_1"


@given(
    ids=SIMPLE_IDS.filter(lambda ids: len(ids) >= 3),
    gaps=st.data(),
)
def test_mixed_json_delimiters_leave_the_body_to_ijson(
    ids: list[str], gaps: st.DataObject
) -> None:
    between = gaps.draw(
        st.lists(
            st.builds("{},{}".format, JSON_WHITESPACE, JSON_WHITESPACE),
            min_size=len(ids) - 1,
            max_size=len(ids) - 1,
        ).filter(lambda drawn: len(set(drawn)) > 1)
    )
    summary, members = _read(
        _laid_out_json(ids, between, [""] * 5), ResponseFormat.JSON
    )
    assert summary.span is None
    assert members == ids
    assert summary.fingerprint == _fingerprint(ids)


@given(
    ids=SIMPLE_IDS,
    layout=st.sampled_from(
        [{"separators": (", ", ": ")}, {"indent": 2}, {"indent": 4}, {"indent": "\t"}]
    ),
    crlf=st.booleans(),
)
def test_json_dumps_layouts_are_read_from_their_bytes(
    ids: list[str], layout: dict[str, Any], *, crlf: bool
) -> None:
    text = json.dumps({"count": len(ids), "list": ids}, **layout)
    summary, members = _read(
        text.replace("\n", "\r\n" if crlf else "\n").encode(), ResponseFormat.JSON
    )
    assert summary.span is not None
    assert members == ids


# Not a quote, comma or backslash, nor a header's name (read as the header).
CSV_SIMPLE_IDS = st.lists(
    _printable_ids('",\\').filter(
        lambda member: member.strip().lower() not in CSV_MEMBER_COLUMNS
    ),
    max_size=300,
)


@given(
    ids=CSV_SIMPLE_IDS,
    header=st.booleans(),
    line_ending=st.sampled_from(["\r\n", "\n"]),
)
def test_one_column_csv_is_read_from_its_bytes(
    ids: list[str], *, header: bool, line_ending: str
) -> None:
    lines = ["member_id", *ids] if header else ids
    body = "".join(line + line_ending for line in lines).encode()
    summary, members = _read(body, ResponseFormat.CSV)
    assert summary.span is not None or not ids
    assert members == ids
    assert summary.fingerprint == _fingerprint(ids)
