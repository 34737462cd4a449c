"""The MX Audience Service API: tokens, downloads with retries, fetching ahead."""

from tap_mx_audience.api.client import DownloadedList, MxAudienceClient
from tap_mx_audience.api.fetcher import AudienceFetcher, FetchedAudience

__all__ = ["AudienceFetcher", "DownloadedList", "FetchedAudience", "MxAudienceClient"]
