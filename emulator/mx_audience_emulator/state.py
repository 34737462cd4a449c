"""The emulator's mutable state, shared by the API, the admin API and tests.

Tests in the same process change it directly; other processes go through the
admin API, which calls the same methods.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from mx_audience_emulator.faults import FaultQueue
from mx_audience_emulator.jsonmodel import ConfigError
from mx_audience_emulator.members import iter_member_ids
from mx_audience_emulator.requestlog import RequestLog
from mx_audience_emulator.tokens import TokenRegistry

if TYPE_CHECKING:
    from mx_audience_emulator.model import Audience, EmulatorConfig


class EmulatorState:
    """Config, tokens, pending faults and the request log of one emulator.

    Tests reach them directly: `tokens.revoke_all()` mirrors `POST
    /_emulator/revoke`, `faults.add(Fault(...))` queues a fault, `log.records()`
    reads the request log.
    """

    def __init__(self, config: EmulatorConfig) -> None:
        """Serve `config`, which `reset()` returns to."""
        self._initial = config
        self._config = config
        self._lock = threading.Lock()
        self.tokens = TokenRegistry()
        self.faults = FaultQueue()
        self.log = RequestLog()

    @property
    def config(self) -> EmulatorConfig:
        """The config in force (an immutable snapshot)."""
        with self._lock:
            return self._config

    def set_config(self, config: EmulatorConfig) -> None:
        """Replace the whole config; tokens, faults and the log are kept."""
        with self._lock:
            self._config = config

    def reset(self) -> None:
        """Go back to the starting config, with no faults, log or revocations."""
        with self._lock:
            self._config = self._initial
        self.faults.clear()
        self.log.clear()
        self.tokens.clear_revocations()

    def put_audience(self, audience: Audience) -> None:
        """Create an audience or replace the one with the same id."""
        with self._lock:
            self._config = self._config.with_audience(audience)

    def patch_audience(
        self, audience_id: str, changes: dict[str, Any]
    ) -> Audience | None:
        """Change some fields of an audience; None if there is no such audience."""
        if changes.get("audience_id", audience_id) != audience_id:
            msg = "audience_id cannot be changed"
            raise ConfigError(msg)
        with self._lock:
            current = self._config.audience(audience_id)
            if current is None:
                return None
            patched = current.patched(changes)
            self._config = self._config.with_audience(patched)
            return patched

    def delete_audience(self, audience_id: str) -> bool:
        """Remove an audience (its URL then answers 404); False if there was none."""
        with self._lock:
            found = self._config.audience(audience_id) is not None
            self._config = self._config.without_audience(audience_id)
            return found

    def members(self, audience_id: str) -> list[str] | None:
        """All member ids of a (small) audience, in body order; None if unknown."""
        audience = self.config.audience(audience_id)
        if audience is None:
            return None
        return [member for batch in iter_member_ids(audience) for member in batch]
