"""`python -m tap_mx_audience` runs the tap's command line."""

from tap_mx_audience.tap import TapMxAudience

TapMxAudience.cli()
