"""The world the emulator serves when given no config: a small demo institution."""

from __future__ import annotations

from mx_audience_emulator.model import Audience, Client, EmulatorConfig

DEMO_INSTITUTION = "INST_DEMO"


def default_config() -> EmulatorConfig:
    """One demo client and three audiences of different sizes in `INST_DEMO`."""
    return EmulatorConfig(
        clients=(Client("demo-client", "demo-secret"),),
        audiences=(
            Audience(
                audience_id="aud_0001",
                slug="high_value_members",
                institution_id=DEMO_INSTITUTION,
                size=1200,
                updated_on="2026-11-20",
            ),
            Audience(
                audience_id="aud_0002",
                slug="new_accounts",
                institution_id=DEMO_INSTITUTION,
                size=350,
                updated_on="2026-11-21",
            ),
            Audience(
                audience_id="aud_0003",
                slug="card_churn_risk",
                institution_id=DEMO_INSTITUTION,
                size=75,
                updated_on="2026-11-19",
            ),
        ),
    )
