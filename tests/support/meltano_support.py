"""A throwaway PostgreSQL cluster and an isolated Meltano project, for e2e tests.

PostgreSQL refuses to run as root, so as root the cluster is created and run
by the `postgres` user, in a temporary directory that user owns. Meltano runs
from its own venv (its dependencies conflict with the dev venv) on the repo's
meltano.yml (or a test project written from it), with its system directory
and state database moved to temporary paths so tests never touch the
developer's `.meltano/`.
"""

from __future__ import annotations

import csv
import datetime
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
MELTANO = REPO_ROOT / ".venv-meltano" / "bin" / "meltano"
HUB_DEFINITION = (
    REPO_ROOT / "hub" / "extractors" / "tap-mx-audience" / "maintainers.yml"
)
LOADER_ROLE = "mx_loader"
"""The role the tests' loaders connect as, set to UTC as the README advises."""
ANALYST_TIMEZONE = "America/New_York"
"""The session time zone the tests' queries run in: not UTC, as an analyst's may be."""
README_SCHEMA = "tap_mx_audience."
"""The loader's schema as the README's queries name it."""


def load_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping: meltano.yml, a Hub definition."""
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _postgres_bin() -> Path:
    """The directory of initdb: on PATH, else Debian's versioned directory."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not candidates:
        raise FileNotFoundError(
            "PostgreSQL is not installed (no initdb); run scripts/test.sh"
        )
    return candidates[-1].parent


@dataclass(frozen=True)
class PostgresCluster:
    """A running cluster on 127.0.0.1, trust auth for the `postgres` user."""

    port: int

    def connect(self, dbname: str = "postgres") -> psycopg.Connection[Any]:
        """An autocommit connection to one database."""
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user="postgres",
            dbname=dbname,
            autocommit=True,
        )

    def rows(self, database: str, sql: str) -> list[tuple[Any, ...]]:
        """The rows a query returns in one database."""
        with self.connect(database) as connection:
            return connection.execute(sql).fetchall()

    def create_database(self, name: str) -> str:
        """A new empty database, so each test loads into its own."""
        with self.connect() as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return name

    def create_loader_database(self, name: str) -> str:
        """A new database as the README's queries expect it, with a non-UTC default.

        Its sessions default to `ANALYST_TIMEZONE`, so a query that depends on
        the session's time zone gives a wrong answer; the loader's role is set
        to UTC (the README's `ALTER ROLE`), so the `_at` columns hold UTC.
        """
        with self.connect() as connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", (LOADER_ROLE,)
            ).fetchone()
            if exists is None:
                connection.execute(f"CREATE ROLE {LOADER_ROLE} LOGIN")
            connection.execute(f"ALTER ROLE {LOADER_ROLE} SET timezone = 'UTC'")
            connection.execute(f'CREATE DATABASE "{name}" OWNER {LOADER_ROLE}')
            connection.execute(
                f"ALTER DATABASE \"{name}\" SET timezone = '{ANALYST_TIMEZONE}'"
            )
        return name


def _as_postgres_user(command: list[str]) -> list[str]:
    return (
        ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command
    )


@contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    """Create, start and finally stop and delete a PostgreSQL cluster."""
    bin_dir = _postgres_bin()
    with tempfile.TemporaryDirectory(prefix="mx-audience-pg-") as root:
        data = Path(root) / "data"
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        subprocess.run(
            _as_postgres_user(
                [
                    str(bin_dir / "initdb"),
                    *("-D", str(data), "-U", "postgres", "--auth=trust"),
                    *("--no-sync", "--encoding=UTF8"),
                ]
            ),
            check=True,
            capture_output=True,
        )
        port = free_port()
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data)]
        subprocess.run(
            _as_postgres_user(
                [*pg_ctl, "-o", options, "-l", f"{root}/log", "-w", "start"]
            ),
            check=True,
            capture_output=True,
        )
        try:
            yield PostgresCluster(port)
        finally:
            subprocess.run(
                _as_postgres_user([*pg_ctl, "-m", "immediate", "stop"]),
                check=False,
                capture_output=True,
            )


@dataclass
class MeltanoRun:
    """The outcome of one meltano command."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """Everything printed, for assertion messages."""
        return self.stdout + self.stderr

    def plugin_lines(self, plugin: str, level: str) -> list[str]:
        """The messages a plugin logged at one level, as Meltano relays them."""
        relayed = re.compile(rf"\[{level}\s*\] {re.escape(plugin)} (.*)")
        return [
            match[1]
            for line in self.output.splitlines()
            if (match := relayed.search(line))
        ]


@dataclass
class MeltanoProject:
    """A Meltano project (the repo's by default) with isolated plugins and state."""

    sys_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    project_dir: Path = REPO_ROOT

    def command(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        stdin: str | None = None,
        timeout: float = 600,
    ) -> MeltanoRun:
        """Run `meltano ARGS` in the project directory with its isolation."""
        completed = subprocess.run(
            self._argv(args),
            cwd=self.project_dir,
            env=self._environment(env),
            input=stdin,
            stdin=subprocess.DEVNULL if stdin is None else None,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return MeltanoRun(completed.returncode, completed.stdout, completed.stderr)

    def start(self, *args: str) -> subprocess.Popen[str]:
        """Start `meltano ARGS` and return at once, to run two at the same moment."""
        return subprocess.Popen(
            self._argv(args),
            cwd=self.project_dir,
            env=self._environment(None),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def _argv(self, args: tuple[str, ...]) -> list[str]:
        if not MELTANO.exists():
            raise FileNotFoundError(f"{MELTANO} is missing; run scripts/test.sh")
        return [str(MELTANO), *args]

    def _environment(self, env: dict[str, str] | None) -> dict[str, str]:
        return {
            **os.environ,
            "MELTANO_SYS_DIR_ROOT": str(self.sys_dir),
            "MELTANO_ENVIRONMENT": "dev",
            "MELTANO_DISABLE_TRACKING": "true",
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
            "MELTANO_AUTO_INSTALL": "false",
            "NO_COLOR": "1",
            **self.env,
            **(env or {}),
        }

    def isolated(self, work_dir: Path, **env: str) -> MeltanoProject:
        """The same installed plugins, with a state database of its own."""
        return MeltanoProject(
            self.sys_dir,
            {
                **self.env,
                "MELTANO_DATABASE_URI": f"sqlite:///{work_dir}/meltano.db",
                **env,
            },
            self.project_dir,
        )

    def copy(self, work_dir: Path) -> MeltanoProject:
        """This project in a copy of its meltano.yml, for `meltano config set`.

        The same installed plugins and environment; what the copy's commands
        write to meltano.yml never reaches the repository's. Written as every
        test project is (`write_project`), so the extractor's install is the
        one the other test projects share.
        """
        return self.in_project(write_project(work_dir / "project"))

    def in_project(self, project_dir: Path) -> MeltanoProject:
        """The same plugins and state, run in another project (see `write_project`)."""
        return MeltanoProject(self.sys_dir, self.env, project_dir)

    def state(self, state_id: str) -> dict[str, Any]:
        """The state Meltano stored for a pipeline."""
        run = self.command("state", "get", state_id)
        assert run.returncode == 0, run.output
        state: dict[str, Any] = json.loads(run.stdout)
        return state


def tap_env(config: Mapping[str, Any]) -> dict[str, str]:
    """A tap config as a user overrides the dev one: `TAP_MX_AUDIENCE_*` variables.

    Text as it is, anything else as JSON; the config is one that
    `EmulatorAdmin.tap_config` (or a test) builds.
    """
    return {
        f"TAP_MX_AUDIENCE_{key.upper()}": (
            value if isinstance(value, str) else json.dumps(value)
        )
        for key, value in config.items()
    }


def finished(process: subprocess.Popen[str], timeout: float = 600) -> MeltanoRun:
    """The outcome of a command `MeltanoProject.start` started."""
    stdout, stderr = process.communicate(timeout=timeout)
    return MeltanoRun(process.returncode, stdout, stderr)


def write_project(
    directory: Path,
    *,
    extractor_pip_url: str = f"-e {REPO_ROOT}",
    plugins: Mapping[str, list[dict[str, Any]]] | None = None,
    **top_level: Any,  # noqa: ANN401 - any of meltano.yml's top-level keys
) -> Path:
    """A Meltano project made from the repo's meltano.yml, as a user's would be.

    The extractor installs from this checkout; `plugins` are added by type
    (e.g. a loader that inherits from target-postgres with another schema)
    and `top_level` keys set (e.g. `state_backend`).
    """
    manifest = load_yaml(REPO_ROOT / "meltano.yml")
    (extractor,) = manifest["plugins"]["extractors"]
    extractor["pip_url"] = extractor_pip_url
    for kind, added in (plugins or {}).items():
        manifest["plugins"][kind] += added
    manifest.update(top_level)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "meltano.yml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    return directory


def postgres_env(
    cluster: PostgresCluster, database: str, user: str = "postgres"
) -> dict[str, str]:
    """target-postgres pointed at one database of the test cluster."""
    return {
        "TARGET_POSTGRES_HOST": "127.0.0.1",
        "TARGET_POSTGRES_PORT": str(cluster.port),
        "TARGET_POSTGRES_USER": user,
        # target-postgres requires one; the cluster's trust auth ignores it.
        "TARGET_POSTGRES_PASSWORD": "unused",
        "TARGET_POSTGRES_DATABASE": database,
    }


def readme_queries(first_line: str) -> list[str]:
    """The README's SQL blocks whose first line starts with `first_line`."""
    readme = (REPO_ROOT / "README.md").read_text()
    return [
        query
        for query in re.findall(r"```sql\n(.*?)```", readme, re.DOTALL)
        if query.startswith(first_line)
    ]


def readme_query_for(first_line: str, id_or_slug: str, institution: str) -> str:
    """The README's query for one audience, wherever it is shown (every copy alike).

    The README names its example audience 'high_value_members' at
    'INST_PUBLIC_ID'; the query is returned for the audience given.
    """
    queries = readme_queries(first_line)
    assert queries, f"README has no query starting {first_line!r}"
    assert len(set(queries)) == 1, f"README's copies of {first_line!r} differ"
    return (
        queries[0]
        .replace("'high_value_members'", f"'{id_or_slug}'")
        .replace("'INST_PUBLIC_ID'", f"'{institution}'")
    )


def readme_meltano_commands() -> list[list[str]]:
    """Every `meltano ...` command in the README: bash blocks and inline code."""
    readme = (REPO_ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.DOTALL)
    lines = [
        line for block in blocks for line in block.replace("\\\n", " ").splitlines()
    ]
    prose = re.sub(r"```.*?```", "", readme, flags=re.DOTALL)
    lines += re.findall(r"`(meltano [^`]+)`", prose)
    commands = [shlex.split(line, comments=True) for line in lines]
    return [command for command in commands if command[:1] == ["meltano"]]


def _loader_setting(loader: str, setting: str) -> Any:  # noqa: ANN401 - any YAML value
    """A loader setting's value as the repository's meltano.yml defines it."""
    loaders = load_yaml(REPO_ROOT / "meltano.yml")["plugins"]["loaders"]
    (definition,) = [d for d in loaders if d["name"] == loader]
    (value,) = [s["value"] for s in definition["settings"] if s["name"] == setting]
    return value


def csv_rows(directory: Path, stream: str) -> list[dict[str, str]]:
    """A stream's rows in every file target-csv wrote, named as meltano.yml says."""
    scheme: str = _loader_setting("target-csv", "file_naming_scheme")
    pattern = re.sub(r"\{(?:date|time)stamp\}", "*", scheme)
    rows: list[dict[str, str]] = []
    for path in sorted(directory.glob(pattern.replace("{stream_name}", stream))):
        with path.open(newline="") as file:
            rows += csv.DictReader(file)
    return rows


def jsonl_rows(directory: Path, stream: str) -> list[dict[str, Any]]:
    """A stream's rows in every file target-jsonl wrote, named as meltano.yml says."""
    stamped = _loader_setting("target-jsonl", "do_timestamp_file")
    pattern = f"{stream}-*.jsonl" if stamped else f"{stream}.jsonl"
    return [
        json.loads(line)
        for path in sorted(directory.glob(pattern))
        for line in path.read_text().splitlines()
    ]


def readme_query(
    first_line: str,
    *,
    schema: str,
    id_or_slug: str,
    institution: str,
    instants: Mapping[str, datetime.datetime] | None = None,
) -> str:
    """The README's query for one audience (`readme_query_for`), schema and instants.

    The README names the loader's schema and its instants literally
    (`instants` maps each quoted literal to an aware datetime, written as
    UTC). Each must be there to be replaced, so a query whose text changed
    fails here instead of running on the example's values.
    """
    query = readme_query_for(first_line, id_or_slug, institution)
    replacements = {
        README_SCHEMA: f"{schema}.",
        **{
            f"'{literal}'": f"'{instant.astimezone(datetime.UTC):%Y-%m-%d %H:%M:%S.%f}'"
            for literal, instant in (instants or {}).items()
        },
    }
    assert all(instant.tzinfo for instant in (instants or {}).values()), instants
    for literal, value in replacements.items():
        assert literal in query, f"{literal} is not in the README query {first_line!r}"
        assert "'" not in value.strip("'"), value
        query = query.replace(literal, value)
    return query
