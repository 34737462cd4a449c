"""Reading the dates that settings, list bodies and bookmarks carry."""

from __future__ import annotations

import datetime


def leading_date(value: object) -> datetime.date | None:
    """The date a `YYYY-MM-DD...` string starts with; None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.date.fromisoformat(value[:10])
    except ValueError:
        return None


def optional_date(value: object) -> datetime.date | None:
    """A `YYYY-MM-DD` date (a longer ISO timestamp keeps its date); None if unset.

    Raises `ValueError` for a value that is set but no date: the caller names
    the setting or field it came from.
    """
    if value is None or value == "":
        return None
    if date := leading_date(value):
        return date
    msg = "not a date (YYYY-MM-DD)"
    raise ValueError(msg)
