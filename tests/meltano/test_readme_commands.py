"""The README's `meltano` commands work on the pinned Meltano, without a terminal.

Issue 16: `meltano config tap-mx-audience list` and `... set --interactive`
failed with `No such command` on Meltano 4.4.1, and `meltano state clear`
without `--force` asks for confirmation and aborts in a script or scheduler.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest

from tests.support.emulatoradmin import (
    CLIENT_SECRET,
    EmulatorAdmin,
    audience,
)
from tests.support.meltano_support import (
    MeltanoProject,
    readme_meltano_commands,
    tap_env,
)

pytestmark = pytest.mark.meltano

STATE_ID = "dev:tap-mx-audience-to-target-jsonl"


Help = Callable[..., tuple[frozenset[str], frozenset[str]]]


@pytest.fixture(scope="module")
def meltano_help(tmp_path_factory: pytest.TempPathFactory) -> Help:
    """`meltano PATH --help` as (options, subcommands), each PATH asked once."""
    project = MeltanoProject(tmp_path_factory.mktemp("meltano-help"))

    @cache
    def options_and_subcommands(*path: str) -> tuple[frozenset[str], frozenset[str]]:
        run = project.command(*path, "--help")
        assert run.returncode == 0, f"meltano {' '.join(path)}: {run.output}"
        options, _, commands = run.stdout.partition("\nOptions:\n")[2].partition(
            "\nCommands:\n"
        )
        return (
            frozenset(re.findall(r"(?<![\w-])--[a-z][a-z-]*", options)),
            frozenset(re.findall(r"^ {2}([a-z][\w-]*)", commands, re.MULTILINE)),
        )

    return options_and_subcommands


def _unknown_words(command: list[str], meltano_help: Help) -> list[str]:
    """The subcommands and options of `meltano ...` that the pinned Meltano lacks.

    A word that is no option names a subcommand while the command so far has
    some, and is an argument after that.
    """
    path: list[str] = []
    unknown = []
    for word in command[1:]:
        options, subcommands = meltano_help(*path)
        if word.startswith("-"):
            if word.partition("=")[0] not in options:
                unknown.append(word)
        elif subcommands:
            if word not in subcommands:
                unknown.append(word)
                break
            path.append(word)
    return unknown


def test_every_readme_command_exists_in_the_pinned_meltano(meltano_help: Help) -> None:
    commands = readme_meltano_commands()
    assert len(commands) > 10
    unknown = {
        " ".join(command): words
        for command in commands
        if (words := _unknown_words(command, meltano_help))
    }
    assert unknown == {}


def test_every_readme_state_clear_needs_no_terminal() -> None:
    clears = [c for c in readme_meltano_commands() if c[1:3] == ["state", "clear"]]
    assert clears
    assert [c for c in clears if "--force" not in c] == []


def _readme_command(text: str) -> list[str]:
    """The README's command that reads `text`, less `meltano`."""
    commands = {" ".join(command) for command in readme_meltano_commands()}
    assert text in commands, f"the README has no `{text}`"
    return text.split()[1:]


def test_readme_config_and_state_commands_succeed(
    meltano_plugins: MeltanoProject, emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure([audience("aud_a", 30)])
    project = meltano_plugins.isolated(
        tmp_path,
        **tap_env(emulator.tap_config("aud_a")),
        TARGET_JSONL_DESTINATION_PATH=str(tmp_path / "jsonl"),
    )

    listed = project.command(*_readme_command("meltano config list tap-mx-audience"))
    assert listed.returncode == 0, listed.output
    (secret,) = [
        line for line in listed.stdout.splitlines() if line.startswith("client_secret")
    ]
    assert "(redacted)" in secret
    assert CLIENT_SECRET not in listed.output

    interactive = project.command(
        *_readme_command("meltano config set tap-mx-audience --interactive"),
        stdin="e\n",
    )
    assert interactive.returncode == 0, interactive.output
    assert "client_secret" in interactive.output

    run = project.command(*_readme_command("meltano run tap-mx-audience target-jsonl"))
    assert run.returncode == 0, run.output
    assert project.state(STATE_ID)["singer_state"]["bookmarks"]
    shown = project.command(*_readme_command(f"meltano state get {STATE_ID}"))
    assert json.loads(shown.stdout) == project.state(STATE_ID)

    cleared = project.command(
        *_readme_command(f"meltano state clear --force {STATE_ID}")
    )
    assert cleared.returncode == 0, cleared.output
    assert project.state(STATE_ID) == {}
