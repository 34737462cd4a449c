"""singer-sdk's standard tap tests, against the emulator over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from singer_sdk.testing import get_tap_test_class

from mx_audience_emulator.server import EmulatorServer
from tap_mx_audience.tap import TapMxAudience
from tests.support.emulatoradmin import EmulatorAdmin, audience

# The standard test class builds a tap from this dict at import time; the
# fixture below points it at the session's emulator before the class syncs.
STANDARD_CONFIG: dict[str, Any] = EmulatorAdmin("http://127.0.0.1:9").tap_config(
    "std-a", "aud_std_b"
)

StandardTests = get_tap_test_class(TapMxAudience, config=STANDARD_CONFIG)


class TestTapMxAudience(StandardTests):  # type: ignore[misc,valid-type]
    """The SDK's tap, stream and attribute tests."""

    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def _emulated_audiences(
        cls, emulator_server: EmulatorServer, tmp_path_factory: pytest.TempPathFactory
    ) -> None:
        admin = EmulatorAdmin(emulator_server.url)
        admin.configure(
            [
                audience("aud_std_a", 120, slug="std-a", updated_on="2026-11-10"),
                audience("aud_std_b", 15, updated_on="2026-11-11"),
            ]
        )
        STANDARD_CONFIG["api_url"] = emulator_server.url
        # Changes mode, so that every stream has records (membership_periods is
        # not synced in full mode).
        STANDARD_CONFIG["snapshot_store"] = str(tmp_path_factory.mktemp("snapshots"))
