"""`mx-audience-emulator`: run the emulator until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from mx_audience_emulator.defaults import default_config
from mx_audience_emulator.model import EmulatorConfig
from mx_audience_emulator.server import EmulatorServer

if TYPE_CHECKING:
    from types import FrameType


def main(argv: list[str] | None = None) -> None:
    """Serve until told to stop, then exit 0."""
    parser = _parser()
    args = parser.parse_args(argv)
    stop = threading.Event()

    def request_stop(_signal: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        server = EmulatorServer(_config(args), host=args.host, port=args.port)
        server.start()
    except (OSError, ValueError) as error:
        parser.error(str(error))
    try:
        sys.stdout.write(f"MX audience emulator listening on {server.url}\n")
        sys.stdout.flush()
        stop.wait()
    finally:
        server.stop()


def _config(args: argparse.Namespace) -> EmulatorConfig:
    """The config file's world (or the demo one), with command-line overrides."""
    config = (
        EmulatorConfig.from_dict(
            json.loads(Path(args.config).read_text(encoding="utf-8"))
        )
        if args.config
        else default_config()
    )
    overrides = {
        "token_lifetime_seconds": args.token_lifetime,
        "latency_seconds": args.latency,
    }
    return dataclasses.replace(
        config,
        **{name: value for name, value in overrides.items() if value is not None},
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mx-audience-emulator",
        description="Emulate the MX Audience Service API on loopback.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument(
        "--port", type=int, default=8765, help="port (0 picks a free one)"
    )
    parser.add_argument(
        "--config", help="EmulatorConfig JSON file (default: the demo config)"
    )
    parser.add_argument("--token-lifetime", type=int, help="token lifetime in seconds")
    parser.add_argument(
        "--latency", type=float, help="delay added to every API request"
    )
    return parser


if __name__ == "__main__":
    main()
