"""STATE messages at a bounded rate, written without copying the state.

singer-sdk writes the whole state after every partition, deep-copying it to
compare with the last one and converting it with `dataclasses.asdict`: with
one partition per audience that is quadratic in the number of audiences
(462 MB of STATE for 1,000 audiences). This writer keeps only a reference to
the latest state and writes it at most every `interval_seconds`, and no more
than `bytes_per_second` on average (a state of 3 MB waits 30 s), plus whenever
the sync asks (before the first record of a run, at the end). The bytes
written then grow with the run's length, never with its square.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from singer_sdk.helpers._state import StateWriter
from singer_sdk.helpers.types import TapState
from typing_extensions import override

from tap_mx_audience.output.writer import BufferedSingerWriter

STATE_INTERVAL_SECONDS = 5.0
STATE_BYTES_PER_SECOND = 100_000


class ThrottledStateWriter(StateWriter):
    """Writes the latest state when it is due, or on `flush`."""

    def __init__(
        self,
        output: BufferedSingerWriter,
        interval_seconds: float = STATE_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Nothing is pending; the first state is written at once."""
        super().__init__(output)
        self._output = output
        self._interval = interval_seconds
        self._clock = clock
        self._pending: TapState | None = None
        self._written_at: float | None = None
        self._written_bytes = 0

    @override
    def write_state(self, state: TapState) -> None:
        self._pending = state
        if self._due(self._interval):
            self.flush()

    def idle(self) -> None:
        """The sync waits anyway: write the pending state if the byte budget allows."""
        if self._due(0.0):
            self.flush()

    def flush(self) -> None:
        """Write the pending state now, if there is one."""
        if self._pending is not None:
            self._written_bytes = self._output.write_state(self._pending)
            self._pending = None
            self._written_at = self._clock()

    def _due(self, interval: float) -> bool:
        if self._written_at is None:
            return True
        wait = max(interval, self._written_bytes / STATE_BYTES_PER_SECOND)
        return self._clock() - self._written_at >= wait
