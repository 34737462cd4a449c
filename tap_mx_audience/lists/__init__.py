"""Reading audience list bodies: check one once, then hand out its members."""

from tap_mx_audience.lists.body import ListBody, read_list
from tap_mx_audience.lists.summary import BodySummary, MalformedListError

__all__ = ["BodySummary", "ListBody", "MalformedListError", "read_list"]
