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
