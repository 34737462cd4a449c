"""Reading audience list bodies: check one once, then hand out its members."""

from tap_mx_audience.lists.body import ListBody, read_list
from tap_mx_audience.lists.summary import ListSummary, MalformedListError

__all__ = ["ListBody", "ListSummary", "MalformedListError", "read_list"]
