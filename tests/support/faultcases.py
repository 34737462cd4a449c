"""The fault matrix: each transient or fatal fault the API can throw at a sync.

Shared by the fault tests (nothing lost, bounded give-up) and the secrets test
(the same matrix at DEBUG level must print no secret and no token). Every
case runs two audiences; the faults hit `aud_a` (or the token endpoint) and
`aud_b` must come through whatever happens to `aud_a`.
"""

from __future__ import annotations

import datetime
import email.utils
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.emulatoradmin import EmulatorAdmin, audience
from tests.support.tapdriver import TapRun, run_tap

SIZES = {"aud_a": 40, "aud_b": 25}
FAST_RETRIES = {"max_retries": 2, "request_timeout_seconds": 1}
FOREVER = 20  # more hits than any retry budget in the matrix


@dataclass(frozen=True)
class FaultCase:
    """Faults to queue, the tap settings, and how `aud_a` must end.

    `gives_up` is None when the faults are transient (every member arrives);
    else the words `aud_a`'s one-line error must hold after `tries` requests.
    A fault parameter may be a function, called when the fault is queued (an
    HTTP-date must be computed then). `min_wait` is the Retry-After to honour.
    """

    faults: tuple[dict[str, Any], ...]
    settings: dict[str, Any] = field(default_factory=lambda: dict(FAST_RETRIES))
    gives_up: str | None = None
    tries: int | None = None
    min_wait: float = 0.0

    def run(self, emulator: EmulatorAdmin, tmp_path: Path, **env: str) -> TapRun:
        """Set the emulator up, queue the faults and run one sync."""
        emulator.configure([audience(name, size) for name, size in SIZES.items()])
        for fault in self.faults:
            emulator.fault(**{k: v() if callable(v) else v for k, v in fault.items()})
        config = emulator.tap_config(*SIZES, **self.settings)
        return run_tap(tmp_path, config, env=env)


def on_list(kind: str, times: int = 1, **params: Any) -> dict[str, Any]:  # noqa: ANN401
    """A fault on `aud_a`'s list requests."""
    return {
        "kind": kind,
        "endpoint": "list",
        "id_or_slug": "aud_a",
        "times": times,
        **params,
    }


def on_token(kind: str, times: int = 1, **params: Any) -> dict[str, Any]:  # noqa: ANN401
    """A fault on token requests."""
    return {"kind": kind, "endpoint": "token", "times": times, **params}


def http_date_in_3_seconds() -> str:
    """A `Retry-After` HTTP-date over 3 s ahead (whole seconds, rounded up)."""
    when = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=4)
    return email.utils.format_datetime(when.replace(microsecond=0), usegmt=True)


TRANSIENT = {
    "429-retry-after-seconds": FaultCase(
        (on_list("status", status=429, retry_after="1"),), min_wait=1
    ),
    "429-retry-after-http-date": FaultCase(
        (on_list("status", status=429, retry_after=http_date_in_3_seconds),),
        min_wait=1,
    ),
    "429-retry-after-beyond-the-bound": FaultCase(
        (on_list("status", status=429, retry_after="3600"),),
        {**FAST_RETRIES, "max_retry_after_seconds": 1},
        min_wait=1,
    ),
    "500": FaultCase((on_list("status", status=500),)),
    "502": FaultCase((on_list("status", status=502, retry_after="0"),)),
    "503": FaultCase((on_list("status", status=503, retry_after="0"),)),
    "504": FaultCase((on_list("status", status=504, retry_after="0"),)),
    "drop-before-headers": FaultCase((on_list("drop_before_headers"),)),
    "drop-mid-body": FaultCase((on_list("drop_mid_body", times=2),)),
    "stall-past-read-timeout": FaultCase((on_list("stall", delay_seconds=3),)),
    "slow-body-within-timeout": FaultCase(
        (on_list("slow_body", delay_seconds=0.3, pieces=4),)
    ),
    "token-endpoint-503": FaultCase((on_token("status", status=503, retry_after="0"),)),
    "token-endpoint-dropped": FaultCase((on_token("drop_before_headers"),)),
    "token-expired-early": FaultCase((on_list("expire_token"),)),
}

GIVE_UP = {
    "429-forever": FaultCase(
        (on_list("status", FOREVER, status=429, retry_after="0"),),
        gives_up="HTTP 429",
        tries=3,
    ),
    "503-forever": FaultCase(
        (on_list("status", FOREVER, status=503),),
        {**FAST_RETRIES, "max_retries": 1},
        gives_up="HTTP 503",
        tries=2,
    ),
    "dropped-forever": FaultCase(
        (on_list("drop_before_headers", FOREVER),),
        {**FAST_RETRIES, "max_retries": 1},
        gives_up="could not reach",
        tries=2,
    ),
    "cut-short-forever": FaultCase(
        (on_list("drop_mid_body", FOREVER),),
        {**FAST_RETRIES, "max_retries": 1},
        gives_up="the download was cut short",
        tries=2,
    ),
    "token-refused-twice": FaultCase(
        (on_list("expire_token", 2),), gives_up="token refused twice", tries=2
    ),
}

MATRIX = {**TRANSIENT, **GIVE_UP}
