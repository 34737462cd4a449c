"""Run the tap as users do (its console script) and read what it wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TAP_EXECUTABLE = str(Path(sys.executable).with_name("tap-mx-audience"))


@dataclass
class TapRun:
    """The outcome of one tap process."""

    returncode: int
    stdout: str
    stderr: str
    messages: list[dict[str, Any]] = field(default_factory=list)

    def records(self, stream: str) -> list[dict[str, Any]]:
        """The records of one stream, in output order."""
        return [
            message["record"]
            for message in self.messages
            if message["type"] == "RECORD" and message["stream"] == stream
        ]

    def member_ids(self, id_or_slug: str | None = None) -> list[str]:
        """Member ids sent, optionally for one configured audience."""
        return [
            record["member_id"]
            for record in self.records("audience_members")
            if id_or_slug is None or record["id_or_slug"] == id_or_slug
        ]

    @property
    def states(self) -> list[dict[str, Any]]:
        """Every STATE value, in order."""
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def last_state(self) -> dict[str, Any]:
        """The state a resumed run would be given."""
        return self.states[-1]

    def error_lines(self) -> list[str]:
        """The lines of stderr logged at ERROR level."""
        return [line for line in self.stderr.splitlines() if "| ERROR" in line]

    def only_error(self) -> str:
        """The one ERROR line of a run that stopped before sending anything."""
        assert self.returncode == 1, self.stderr
        assert self.stdout == ""
        assert "Traceback" not in self.stderr
        (line,) = self.error_lines()
        return line


def partition_state(
    state: dict[str, Any], id_or_slug: str, institution: str
) -> dict[str, Any]:
    """One audience's partition of the `audience_members` bookmarks."""
    partitions = state["bookmarks"]["audience_members"]["partitions"]
    wanted = {"id_or_slug": id_or_slug, "institution_public_id": institution}
    return next(p for p in partitions if p["context"] == wanted)


def tap_command(
    tmp_path: Path,
    config: dict[str, Any],
    *,
    state: dict[str, Any] | str | None = None,
    catalog: dict[str, Any] | None = None,
    args: tuple[str, ...] = (),
) -> list[str]:
    """The tap's command line, with config, state and catalog written to files.

    A `state` given as text is written as it is, to try what is not JSON.
    """
    command = [TAP_EXECUTABLE]
    if config:
        config_path = tmp_path / "config.json"
        config_path.write_text(json.dumps(config))
        command += ["--config", str(config_path)]
    if state is not None:
        state_path = tmp_path / "state.json"
        state_path.write_text(state if isinstance(state, str) else json.dumps(state))
        command += ["--state", str(state_path)]
    if catalog is not None:
        catalog_path = tmp_path / "catalog.json"
        catalog_path.write_text(json.dumps(catalog))
        command += ["--catalog", str(catalog_path)]
    return command + list(args)


def run_tap(  # noqa: PLR0913 - one keyword per CLI option
    tmp_path: Path,
    config: dict[str, Any],
    *,
    state: dict[str, Any] | str | None = None,
    catalog: dict[str, Any] | None = None,
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    timeout: float = 300,
    cwd: Path | None = None,
) -> TapRun:
    """Run one sync (or another command via `args`) and parse its stdout."""
    completed = subprocess.run(
        tap_command(tmp_path, config, state=state, catalog=catalog, args=args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        check=False,
    )
    is_sync = not args or args == ("--config", "ENV")
    messages = (
        [json.loads(line) for line in completed.stdout.splitlines()] if is_sync else []
    )
    return TapRun(completed.returncode, completed.stdout, completed.stderr, messages)
