"""The `--state` a run starts from, checked before anything is sent.

The layout is singer-sdk's: `bookmarks.<stream>.partitions[]`, each with the
`context` of one audience. What cannot be read as that layout stops the run
with one line (`StateError`). A value that can be read but not used is named
in a WARNING and left out, so the run goes on as it would without it (for a
stream-wide bookmark: those audiences are sent in full), and the next state is
clean.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Mapping
from typing import Any

from tap_mx_audience.audience import AudienceRef
from tap_mx_audience.dates import leading_date
from tap_mx_audience.errors import StateError

logger = logging.getLogger("tap-mx-audience")

MAX_UNCONFIGURED_PARTITIONS = 1000
"""Bookmarks kept per stream for audiences no longer configured (they may return)."""

MELTANO_WRAPPER = "singer_state"


def checked_text(text: str) -> str | None:
    """The state file's text if it holds a JSON object; None if it is empty."""
    if not text.strip():
        return None
    try:
        state = json.loads(text)
    except json.JSONDecodeError as exc:
        detail = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
        raise StateError(f"--state is not valid JSON ({detail})") from None
    if not isinstance(state, dict):
        raise StateError(
            '--state must be a JSON object such as {"bookmarks": {...}}, '
            f"not {type(state).__name__ if state is not None else 'null'}"
        )
    return text


def usable_state(
    state: Mapping[str, Any],
    streams: Collection[str],
    configured: Collection[AudienceRef],
) -> dict[str, Any]:
    """The bookmarks of `streams` this run can use, from a state object."""
    state = _unwrapped(state)
    bookmarks = state.get("bookmarks", {})
    if not isinstance(bookmarks, dict):
        raise StateError.at("bookmarks", "must be an object")
    usable: dict[str, Any] = {}
    for stream, stream_state in bookmarks.items():
        if stream not in streams:
            logger.warning(
                "--state bookmarks of stream '%s' ignored: the tap has no such stream",
                stream,
            )
            continue
        usable[stream] = _stream_state(f"bookmarks.{stream}", stream_state, configured)
    return {"bookmarks": usable}


def _unwrapped(state: Mapping[str, Any]) -> Mapping[str, Any]:
    """The state inside Meltano's wrapper, as `meltano state get` prints it."""
    if MELTANO_WRAPPER not in state or "bookmarks" in state:
        return state
    inner = state[MELTANO_WRAPPER]
    if not isinstance(inner, dict):
        raise StateError.at(MELTANO_WRAPPER, "must be an object")
    logger.info(
        "--state is wrapped in Meltano's '%s': using the state inside it",
        MELTANO_WRAPPER,
    )
    return inner


def _stream_state(
    path: str, stream_state: object, configured: Collection[AudienceRef]
) -> dict[str, Any]:
    if not isinstance(stream_state, dict):
        raise StateError.at(path, "must be an object")
    stream_state = dict(stream_state)
    if stream_state.pop("replication_key_value", None) is not None:
        logger.warning(
            "--state '%s.replication_key_value' ignored: the tap keeps one bookmark "
            "per audience, under 'partitions'",
            path,
        )
    if "partitions" not in stream_state:
        return stream_state
    partitions = stream_state["partitions"]
    if not isinstance(partitions, list):
        raise StateError.at(f"{path}.partitions", "must be a list")
    checked = [
        _partition(f"{path}.partitions[{index}]", partition)
        for index, partition in enumerate(partitions)
    ]
    stream_state["partitions"] = _bounded(checked, configured)
    return stream_state


def _partition(path: str, partition: object) -> tuple[AudienceRef, dict[str, Any]]:
    """One audience's partition, without a bookmark date it cannot read."""
    if not isinstance(partition, dict):
        raise StateError.at(path, "must be an object with a 'context'")
    audience = _audience(f"{path}.context", partition.get("context"))
    value = partition.get("replication_key_value")
    if value is None or leading_date(value) is not None:
        return audience, partition
    logger.warning(
        "--state replication_key_value of %s ignored: not a date (YYYY-MM-DD)",
        audience.label,
    )
    return audience, {
        k: v for k, v in partition.items() if k != "replication_key_value"
    }


def _audience(path: str, context: object) -> AudienceRef:
    """The audience a partition's `context` names."""
    if not (
        isinstance(context, dict)
        and isinstance(id_or_slug := context.get("id_or_slug"), str)
        and isinstance(institution := context.get("institution_public_id"), str)
    ):
        raise StateError.at(
            path,
            "must be an object with the strings 'id_or_slug' and "
            "'institution_public_id'",
        )
    return AudienceRef(id_or_slug, institution)


def _bounded(
    partitions: list[tuple[AudienceRef, dict[str, Any]]],
    configured: Collection[AudienceRef],
) -> list[dict[str, Any]]:
    """Keep the most recent bookmarks of audiences no longer configured.

    They are kept because an audience may be configured again, but only so
    many: the oldest `replication_key_value` goes first.
    """
    kept = set(configured)
    unconfigured = [
        index for index, (audience, _) in enumerate(partitions) if audience not in kept
    ]
    excess = len(unconfigured) - MAX_UNCONFIGURED_PARTITIONS
    if excess > 0:
        by_age = sorted(
            unconfigured, key=lambda index: _date_text(partitions[index][1])
        )
        dropped = set(by_age[:excess])
        partitions = [p for index, p in enumerate(partitions) if index not in dropped]
        logger.info(
            "--state: dropped the %d oldest bookmark(s) of audiences no longer "
            "configured; the %d most recent are kept",
            excess,
            MAX_UNCONFIGURED_PARTITIONS,
        )
    return [partition for _, partition in partitions]


def _date_text(partition: Mapping[str, Any]) -> str:
    """A partition's bookmark date as sortable text; '' (oldest) when it has none."""
    updated_on = leading_date(partition.get("replication_key_value"))
    return "" if updated_on is None else updated_on.isoformat()
