"""STATE messages at a bounded rate, written without copying the state.

singer-sdk writes the whole state after every partition, deep-copying it to
compare with the last one and converting it with `dataclasses.asdict`: with
one partition per audience that is quadratic in the number of audiences
(462 MB of STATE for 1,000 audiences). This writer keeps only a reference to
the latest state and writes it at most every `interval_seconds`, plus whenever
the sync asks (before the first record of a run, at the end), so the bytes
written grow with the run's length, not with its square.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from singer_sdk.helpers._state import StateWriter
from singer_sdk.helpers.types import TapState
from typing_extensions import override

from tap_mx_audience.delivery.output import BufferedSingerWriter

STATE_INTERVAL_SECONDS = 5.0


class ThrottledStateWriter(StateWriter):
    """Writes the latest state at most every `interval_seconds`, or on `flush`."""

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

    @override
    def write_state(self, state: TapState) -> None:
        self._pending = state
        now = self._clock()
        if self._written_at is None or now - self._written_at >= self._interval:
            self.flush()

    def flush(self) -> None:
        """Write the pending state now, if there is one."""
        if self._pending is not None:
            self._output.write_state(self._pending)
            self._pending = None
            self._written_at = self._clock()
