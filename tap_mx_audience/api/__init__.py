"""The MX Audience Service API: one request door, list downloads, fetching ahead."""

from tap_mx_audience.api.client import MxApiClient
from tap_mx_audience.api.download import Download
from tap_mx_audience.api.fetcher import AudienceFetcher, FetchedAudience

__all__ = ["AudienceFetcher", "Download", "FetchedAudience", "MxApiClient"]
