"""What one sync needs beyond singer-sdk: the streams' collaborators.

The tap owns one `SyncServices`; the streams are handed it explicitly rather
than reaching through the tap, so the data path reads from this file: settings
in, lists fetched ahead, records out through one writer, failures collected.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Any

from tap_mx_audience.api import AudienceFetcher, MxAudienceClient
from tap_mx_audience.delivery.output import BufferedSingerWriter
from tap_mx_audience.errors import AudienceFailedError, SyncIncompleteError
from tap_mx_audience.settings import Settings


class SyncServices:
    """Settings, the API client, the fetcher, the writer and the failure list.

    Everything is built on first use, so discovery and `--about` never need a
    valid config.
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        output: BufferedSingerWriter,
        log_failure: Callable[[AudienceFailedError], None],
    ) -> None:
        """Keep what the services are built from."""
        self._config = config
        self.output = output
        self._log_failure = log_failure
        self.failures: list[AudienceFailedError] = []

    @cached_property
    def settings(self) -> Settings:
        """The validated settings."""
        return Settings.from_config(self._config)

    @cached_property
    def client(self) -> MxAudienceClient:
        """The MX API client, with its token, for this sync."""
        return MxAudienceClient(self.settings)

    @cached_property
    def fetcher(self) -> AudienceFetcher:
        """Downloads the lists, ahead of the stream, for this sync."""
        return AudienceFetcher(self.client, self.settings)

    def report_failure(self, failure: AudienceFailedError) -> None:
        """Record an audience that could not be delivered; the sync goes on."""
        self._log_failure(failure)
        self.failures.append(failure)

    def raise_for_failures(self) -> None:
        """End a sync in which some audiences failed with a non-zero exit."""
        if self.failures:
            raise SyncIncompleteError(self.failures)

    def close(self) -> None:
        """Flush what is buffered; stop downloads nobody will read."""
        self.output.flush()
        if "fetcher" in self.__dict__:
            self.fetcher.close()
