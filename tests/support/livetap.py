"""Run the tap in the background, watch its messages as they come, and stop it."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from tests.support.tapdriver import TapRun, tap_command

Message = dict[str, Any]
WAIT_SECONDS = 60.0


class LiveTap:
    """A tap process whose stdout is read only when a test asks.

    While nobody reads, the pipe fills and the tap blocks in the middle of its
    output, so it stays where the test wants to stop it.
    """

    def __init__(
        self,
        tmp_path: Path,
        config: dict[str, Any],
        state: dict[str, Any] | None = None,
    ) -> None:
        """Start the tap; its stderr goes to a file so it can never block."""
        self._stderr_path = tmp_path / "stderr.log"
        with self._stderr_path.open("wb") as stderr:
            self._process = subprocess.Popen(
                tap_command(tmp_path, config, state=state),
                stdout=subprocess.PIPE,
                stderr=stderr,
            )
        self._lines: list[bytes] = []

    def wait_for(self, wanted: Callable[[Message], bool]) -> Message:
        """Read messages until one is `wanted`; fail if the output ends first."""
        stdout = self._process.stdout
        assert stdout is not None
        while line := stdout.readline():
            if not line.endswith(b"\n"):
                break
            self._lines.append(line)
            message: Message = json.loads(line)
            if wanted(message):
                return message
        msg = f"the tap ended without the awaited message:\n{self.stderr()}"
        raise AssertionError(msg)

    def stop(self, signum: int) -> TapRun:
        """Send `signum`, then collect everything the tap had written."""
        os.kill(self._process.pid, signum)
        return self.finish()

    def stop_unread(self, signum: int) -> float:
        """Send `signum` while nobody reads; the seconds the tap took to end."""
        started = time.monotonic()
        os.kill(self._process.pid, signum)
        self._process.wait(timeout=WAIT_SECONDS)
        return time.monotonic() - started

    def close_stdout(self) -> float:
        """Stop reading for good, as `head` does; the seconds the tap took to end."""
        stdout = self._process.stdout
        assert stdout is not None
        started = time.monotonic()
        stdout.close()
        self._process.wait(timeout=WAIT_SECONDS)
        return time.monotonic() - started

    @property
    def returncode(self) -> int | None:
        """The exit status, once the tap has ended."""
        return self._process.returncode

    def stderr(self) -> str:
        """What the tap logged so far."""
        return self._stderr_path.read_text(errors="replace")

    def finish(self) -> TapRun:
        """Wait for the tap to end; keep only complete lines, as a target would."""
        stdout = self._process.stdout
        assert stdout is not None
        rest = stdout.read()
        stdout.close()
        returncode = self._process.wait(timeout=WAIT_SECONDS)
        complete = rest[: rest.rfind(b"\n") + 1]
        lines = [*self._lines, *complete.splitlines(keepends=True)]
        text = b"".join(lines).decode()
        messages = [json.loads(line) for line in lines]
        return TapRun(returncode, text, self.stderr(), messages)

    def __enter__(self) -> Self:
        """Use as a context manager so a failing test leaves no process behind."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Kill the tap if the test did not end it."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=WAIT_SECONDS)
        if self._process.stdout is not None:
            self._process.stdout.close()


def is_member_record(message: Message) -> bool:
    """Whether a message is an `audience_members` RECORD."""
    return bool(message["type"] == "RECORD" and message["stream"] == "audience_members")


def wait_until(condition: Callable[[], bool]) -> None:
    """Poll `condition` until it holds; fail after `WAIT_SECONDS`."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            msg = "the awaited condition never held"
            raise AssertionError(msg)
        time.sleep(0.02)


def committed(state: Message, id_or_slug: str) -> str | None:
    """The bookmark date committed for an audience in a STATE value, if any."""
    partitions = state.get("bookmarks", {}).get("audience_members", {})
    return next(
        (
            partition.get("replication_key_value")
            for partition in partitions.get("partitions", [])
            if partition["context"]["id_or_slug"] == id_or_slug
        ),
        None,
    )
