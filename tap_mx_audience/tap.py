"""TapMxAudience: settings, streams, and how a sync ends.

singer-sdk upgrade checklist: what the tap relies on beyond singer-sdk's
documented API, why, and the tests that fail if an upgrade breaks it
(`bash scripts/sdk-latest.sh` runs them against the newest 0.x).

- `PluginBase._validate_config` (private) is overridden: the SDK's messages
  quote the offending value, which may be a secret, and there is no public
  hook for them (tests/config/test_hostile_config.py,
  tests/process/test_secrets.py).
- `PluginBase._handle_termination` (private) is overridden: the SDK exits 0
  on SIGTERM/SIGINT and writes the STATE even inside a half-written line
  (tests/process/test_signals.py).
- `Tap.sync_all` and `Tap.run_connection_test` are `@final` in typing only;
  they are overridden to put the end-of-run work (token first; then the
  final STATE, the run summary, failed audiences failing the run; downloads
  closed) around both a sync and `--test` (tests/api/test_audience_failures.py,
  tests/process/test_connection_test.py).
- `Tap.cb_test` ends with `ctx.exit()`; the `click.exceptions.Exit` it raises
  is caught so that `--test` leaves without waiting for downloads ahead
  (tests/process/test_connection_test.py).
- `Stream.sync` logs "An unhandled error occurred" for the `AbortedSync...`
  exception its own dry-run record limit raises (caused by
  `MaxRecordsLimitException`); `ending.quiet_dry_run_stops` drops that line by
  the exception chain (tests/process/test_connection_test.py).
- `Stream.ABORT_AT_RECORD_COUNT`, `Stream.stream_maps` (`SameRecordTransform`,
  `RemoveRecordTransform`, `flattening_enabled`), `Stream.mask` and
  `Stream.child_streams` are read to know whether singer-sdk would change or
  drop records: the fast path (delivery/fastpath.py), the BATCH guard and
  the stream-map guard below (tests/delivery/test_fastpath_equivalence.py,
  tests/delivery/test_batch_guard.py, tests/delivery/test_stream_maps.py).
- `PluginBase.append_builtin_config` merges the SDK's settings (stream maps,
  flattening, BATCH) into the schema it is handed, `config_jsonschema` itself
  when the SDK calls it (`--about`, environment parsing): `settings_schema`
  asks it of a copy, `builtin_settings` of an empty schema. Validation
  (settings.py) uses the draft the schema names (`$schema`, set by
  `singer_sdk.typing`) and no format checker, as the SDK's own, and takes
  the `Decimal` the SDK reads for `4.0` in a config file as a whole number
  (tests/config/test_settings.py, tests/config/test_hostile_config.py,
  tests/config/test_config_input.py).
- `Stream.sync` sends ACTIVATE_VERSION for full-table streams when the config
  holds `emit_activate_version_messages` (read by `Stream`, declared by the
  SDK in `EMIT_ACTIVATE_VERSION_CONFIG` but merged into no tap's schema): the
  tap declares it and refuses true. Every other key the SDK's tap side reads
  from the config is a setting too, but for code the tap never runs
  (`RESTStream`, the SDK's authenticators) (tests/config/test_config_input.py).
- `Tap.state_writer` is overridden with output/statewriter.py's
  `ThrottledStateWriter`, a subclass of the private
  `singer_sdk.helpers._state.StateWriter`: the SDK's writer copies the whole
  state for every partition. `Tap.sync_all` still writes its first STATE
  through `Tap._state_writer`, bypassing the override
  (tests/delivery/test_run_output.py).
- delivery/bookmarks.py writes the SDK's partition state keys
  (`replication_key`, `replication_key_value`) and drops its
  `progress_markers`, which the SDK would otherwise promote over a committed
  bookmark at the end of the sync (tests/state/test_incremental.py,
  tests/state/test_kill_resume.py).
- `Stream.get_context_state` (documented as internal to the SDK) is
  overridden in streams.py to find a partition through an index instead of
  scanning every partition per audience (quadratic); `Stream.tap_state`
  (documented as internal) is read by delivery/run.py to emit the STATE once
  an audience is committed (tests/delivery/test_run_output.py,
  tests/state/test_incremental.py), also to read the bookmarks of a
  deselected `audience_members` without giving it partitions
  (tests/delivery/test_selection.py) and to drop the partitions of an audience
  configured again under another key (tests/delivery/test_audience_keys.py).
- `Stream._write_schema_message` (private) writes the SCHEMA once per run,
  not once per audience; `Stream._write_starting_replication_value`
  (private) is a no-op for `audience_members`, whose bookmarks decide
  everything: the SDK's version scans every partition for each audience
  (tests/delivery/test_run_output.py).
- `Stream._increment_stream_state` (private) is a no-op for
  `audience_members`: singer-sdk would keep progress markers from each
  record's `updated_on` and warn on every run that they are not resumable;
  the delivery commits the bookmark itself (tests/delivery/test_run_output.py).
- `Stream.selected` is a property with a setter; `membership_periods`
  overrides the getter and keeps the SDK's setter through
  `Stream.selected.__set__` (tests/delivery/test_sync.py).
- The CLI's `--state` option (`Tap.get_singer_command`) gets the tap's own
  callback, `cb_state`, because singer-sdk reads the file before the tap
  exists and fails with a traceback on an empty one
  (tests/state/test_state_input.py).
"""

from __future__ import annotations

import copy
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import PurePath
from typing import IO, TYPE_CHECKING, Any, ClassVar

import click
from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.helpers.capabilities import PluginCapabilities, TapCapabilities
from singer_sdk.mapper import RemoveRecordTransform
from typing_extensions import override

from tap_mx_audience import statefile
from tap_mx_audience.audience import ResponseFormat
from tap_mx_audience.delivery.fastpath import record_transforms
from tap_mx_audience.delivery.run import DeliveryRun
from tap_mx_audience.ending import (
    leave,
    one_line_failures,
    quiet_dry_run_stops,
    start_stop_deadline,
)
from tap_mx_audience.envconfig import environment_config
from tap_mx_audience.errors import SettingsError
from tap_mx_audience.output.statewriter import ThrottledStateWriter
from tap_mx_audience.output.writer import BufferedSingerWriter, StdoutClosedError
from tap_mx_audience.scratch import scratch_directory
from tap_mx_audience.settings import (
    HISTORY_RETENTION_DAYS,
    MAX_RETRIES,
    MAX_RETRY_AFTER_SECONDS,
    PARALLEL_DOWNLOADS,
    REQUEST_TIMEOUT_SECONDS,
    NumberSetting,
    Settings,
    schema_problems,
    unknown_settings,
)
from tap_mx_audience.streams import (
    AudienceMembersStream,
    AudiencesStream,
    MembershipPeriodsStream,
)

if TYPE_CHECKING:
    from types import FrameType

    from singer_sdk.helpers.capabilities import CapabilitiesEnum
    from singer_sdk.streams import Stream

AUDIENCE_ITEM = th.ObjectType(
    th.Property(
        "id_or_slug",
        th.StringType,
        required=True,
        title="Audience id or slug",
        description="The audience's id or slug, as in the MX app.",
    ),
    th.Property(
        "institution_public_id",
        th.StringType,
        required=True,
        title="Institution public id",
        description="The public id of the institution the audience belongs to.",
    ),
    additional_properties=False,
)


def _number_property(
    setting: NumberSetting[Any], *, title: str, description: str
) -> th.Property[Any]:
    """A number setting's schema, stating the bounds its validation enforces."""
    kind = th.IntegerType if isinstance(setting.default, int) else th.NumberType
    return th.Property(
        setting.name,
        kind(minimum=setting.minimum, maximum=setting.maximum),
        default=setting.default,
        title=title,
        description=description,
    )


class TapMxAudience(Tap):
    """Singer tap for MX Audience Service audience lists."""

    name = "tap-mx-audience"
    message_writer_class = BufferedSingerWriter
    capabilities: ClassVar[list[CapabilitiesEnum]] = [
        TapCapabilities.CATALOG,
        TapCapabilities.STATE,
        TapCapabilities.DISCOVER,
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        PluginCapabilities.BATCH,
        PluginCapabilities.STRUCTURED_LOGGING,
    ]

    config_jsonschema = th.PropertiesList(
        th.Property(
            "client_id",
            th.StringType,
            required=True,
            title="Client ID",
            description="The Audience API client_id from the MX app "
            "(Authentication > Audience API Key).",
        ),
        th.Property(
            "client_secret",
            th.StringType,
            required=True,
            secret=True,
            title="Client secret",
            description="The Audience API client_secret from the MX app. "
            "Never printed.",
        ),
        th.Property(
            "api_url",
            th.URIType,
            required=True,
            title="API URL",
            description="Base URL of your MX environment, e.g. "
            "https://yourdomain.access.mx.com (https required except on loopback).",
        ),
        th.Property(
            "audiences",
            th.ArrayType(AUDIENCE_ITEM),
            required=True,
            title="Audiences",
            description="The audiences to extract, each "
            '{"id_or_slug": ..., "institution_public_id": ...}; each is one partition.',
        ),
        th.Property(
            "response_format",
            th.StringType(allowed_values=[kind.value for kind in ResponseFormat]),
            default=ResponseFormat.JSON.value,
            title="Response format",
            description="The list format the tap asks for (Accept header): "
            "json or csv.",
        ),
        th.Property(
            "start_date",
            th.DateType,
            title="Start date",
            description="Audiences whose updated_on is before this date "
            "send no members.",
        ),
        th.Property(
            "csv_member_column",
            th.StringType,
            title="CSV member column",
            description="The member id column of CSV bodies with a header "
            "(default: member_id, user_guid, guid or id, whichever is present).",
        ),
        th.Property(
            "snapshot_store",
            th.StringType,
            title="Snapshot store",
            description="Changes mode: a directory or fsspec URL (file://, s3://, "
            "gs://, az://) where the tap keeps each delivered member set, so that "
            "only members who joined or left are sent. Unset: full mode.",
        ),
        th.Property(
            "snapshot_store_options",
            th.ObjectType(),
            secret=True,
            title="Snapshot store options",
            description="Changes mode: fsspec storage options for snapshot_store, "
            'e.g. {"s3_additional_kwargs": {"ServerSideEncryption": "aws:kms"}, '
            '"profile": ..., "endpoint_url": ..., "client_kwargs": {...}}, or the '
            "GCS or Azure options. Never printed.",
        ),
        _number_property(
            HISTORY_RETENTION_DAYS,
            title="History retention (days)",
            description="Changes mode: how long closed membership periods stay in "
            "the snapshot store's log (1 to 36500 days).",
        ),
        _number_property(
            PARALLEL_DOWNLOADS,
            title="Parallel downloads",
            description="How many audience lists may download at once, ahead of the "
            "one being emitted (1 to 32). Output order stays the configured order.",
        ),
        _number_property(
            REQUEST_TIMEOUT_SECONDS,
            title="Request timeout (seconds)",
            description="Longest wait for the API to send the next bytes; a stalled "
            "download is retried.",
        ),
        _number_property(
            MAX_RETRIES,
            title="Max retries",
            description="Retries of a request after 429, 5xx, a dropped connection "
            "or a timeout, with exponential backoff (0 to 20).",
        ),
        _number_property(
            MAX_RETRY_AFTER_SECONDS,
            title="Max Retry-After (seconds)",
            description="The longest Retry-After the tap honours before one retry.",
        ),
        th.Property(
            "emit_activate_version_messages",
            th.BooleanType,
            default=False,
            title="Emit ACTIVATE_VERSION messages",
            description="singer-sdk's ACTIVATE_VERSION messages for full-table "
            "streams. Refused when true: the tap sends only what changed and leaves "
            "failed audiences out, so a target that deletes the rows missing from "
            "a version would delete delivered members and history.",
        ),
    ).to_dict()

    @override
    def __init__(
        self,
        *,
        config: dict[str, Any] | PurePath | str | list[PurePath | str] | None = None,
        parse_env_config: bool = False,
        **kwargs: Any,
    ) -> None:
        """Read `TAP_MX_AUDIENCE_*` settings here, typed by their schema.

        singer-sdk would pass number settings on as text and stop with a
        traceback on a malformed integer or JSON value (see `envconfig`).
        """
        if parse_env_config and isinstance(config, dict | None):
            prefix = f"{self.name.upper().replace('-', '_')}_"
            from_env = environment_config(
                self.settings_schema()["properties"], prefix, os.environ
            )
            self.logger.info(
                "Settings read from the environment by the tap itself: %s",
                ", ".join(from_env),
            )
            config, parse_env_config = {**(config or {}), **from_env}, False
        super().__init__(config=config, parse_env_config=parse_env_config, **kwargs)

    @classmethod
    def settings_schema(cls) -> dict[str, Any]:
        """The schema of every setting: the tap's own and singer-sdk's built-in."""
        schema = copy.deepcopy(cls.config_jsonschema)
        cls.append_builtin_config(schema)
        return schema

    @classmethod
    def builtin_settings(cls) -> frozenset[str]:
        """The settings singer-sdk adds for the tap's capabilities (stream maps, ...).

        Asked of an empty schema: the SDK merges its settings into
        `config_jsonschema` itself, in place (`--about`, ...).
        """
        schema: dict[str, Any] = {"properties": {}}
        cls.append_builtin_config(schema)
        return frozenset(schema["properties"])

    @classmethod
    @override
    def get_singer_command(cls) -> click.Command:
        """Read `--state` through `cb_state`, which the SDK's reader lacks."""
        command = super().get_singer_command()
        (state_option,) = (p for p in command.params if p.name == "state")
        state_option.callback = cls.cb_state
        return command

    @classmethod
    def cb_state(
        cls, ctx: click.Context, _: click.Parameter, value: IO[str] | None
    ) -> IO[str] | None:
        """An empty `--state` file is no state; one not a JSON object stops the run.

        Checked here, as the command line is read: singer-sdk parses the file
        before the tap exists, with a traceback for an empty one.
        """
        if value is None:
            return None
        del ctx  # failures end the process here, as everywhere else
        with one_line_failures(cls.logger):
            text = statefile.checked_text(value.read())
        return None if text is None else io.StringIO(text)

    @override
    def load_state(self, state: dict[str, Any]) -> None:
        """Check the state's layout and name the bookmarks that cannot be used."""
        if state:
            state = statefile.usable_state(
                state, self.streams, self.deliveries.settings.audiences
            )
        super().load_state(state)

    @override
    def discover_streams(self) -> list[Stream]:
        members = AudienceMembersStream(self, self.deliveries)
        periods = MembershipPeriodsStream(self, self.deliveries)
        self.deliveries.members_stream = members
        self.deliveries.periods_stream = periods
        return [AudiencesStream(self, self.deliveries), members, periods]

    @override
    def setup_mapper(self) -> None:
        """Refuse stream maps or BATCH output that would silently drop records.

        This is the first point where both the catalog and the stream maps
        are known, before anything is written.
        """
        super().setup_mapper()
        if self.config.get("batch_config"):
            for stream in self.streams.values():
                if problem := _batch_conflict(stream):
                    raise SettingsError(
                        f"Setting 'batch_config' cannot be combined with {problem}: "
                        "singer-sdk writes BATCH files without applying them"
                    )
        for stream in self.streams.values():
            if child := _child_dropped_with(stream):
                raise SettingsError(
                    f"Setting 'stream_maps' drops stream '{stream.name}', and "
                    f"singer-sdk then drops its child stream '{child}' too: "
                    f"deselect '{stream.name}' in the catalog instead"
                )

    @cached_property
    def deliveries(self) -> DeliveryRun:
        """This sync's deliveries: what the streams ask for their records."""
        assert isinstance(self.message_writer, BufferedSingerWriter)  # noqa: S101
        return DeliveryRun(
            self.config,
            self.message_writer,
            lambda failure: self.logger.error("%s", failure),
        )

    @property
    @override
    def state_writer(self) -> ThrottledStateWriter:
        """STATE at a bounded rate, written without the SDK's copies of the state."""
        return self.deliveries.state_writer

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Validate without ever quoting a value (the SDK's messages do).

        The settings schema first, the tap's and the SDK's built-in settings
        alike; then the rules the schema cannot state.
        """
        schema = self.settings_schema()
        for line in unknown_settings(self.config, schema["properties"]):
            self.logger.warning("%s", line)
        errors = schema_problems(self.config, schema, self.builtin_settings())
        if not errors:
            try:
                Settings.from_config(self.config)
            except SettingsError as exc:
                errors = [str(exc)]
        if errors and raise_errors:
            raise SettingsError(errors[0])
        return errors

    @classmethod
    @override
    def invoke(cls, **options: Any) -> None:
        """Run a sync; one line on stderr and a non-zero exit when it fails."""
        with one_line_failures(cls.logger):
            super().invoke(**options)

    @classmethod
    @override
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        """Run `--test` as a sync limited in records, ending as a sync ends.

        singer-sdk calls this for every run; with `--test` it ends the process
        (`ctx.exit`) with downloads still running ahead, which are left behind
        rather than waited for.
        """
        try:
            with one_line_failures(cls.logger):
                super().cb_test(ctx, param, value)
        except click.exceptions.Exit as done:
            leave(done.exit_code)

    @override  # type: ignore[misc] # final in typing only
    def sync_all(self) -> None:
        """Sync every stream, inside what every run does around them."""
        with self._sync_run():
            super().sync_all()

    @override  # type: ignore[misc] # final in typing only
    def run_connection_test(self) -> bool:
        """`--test`: singer-sdk's dry run, ending as a sync ends."""
        with self._sync_run(), quiet_dry_run_stops(self.streams.values()):
            return super().run_connection_test()

    @contextmanager
    def _sync_run(self) -> Iterator[None]:
        """What every sync does around its streams.

        The scratch folder first: making it removes what killed runs left
        behind. The snapshot store next, so that a missing backend or a bad
        store option stops the run before any request; then the token, so
        that rejected credentials or a wrong `api_url` stop it before
        anything is written. After the streams, the latest state and the run
        summary, then audiences that failed along the way fail the run;
        downloads are closed however the run ends.
        """
        scratch_directory()
        try:
            _ = self.deliveries.snapshot_store
            self.deliveries.client.authenticate()
            yield
            self.deliveries.state_writer.flush()
            self.logger.info("%s", self.deliveries.summary.line())
            self.deliveries.raise_for_failures()
        finally:
            self.deliveries.close()

    @override
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """Emit the latest state, then exit non-zero: the run did not finish.

        singer-sdk exits 0 on SIGTERM, which tells an orchestrator that a
        cut-short run succeeded. A write in progress is completed first, so
        the STATE never lands inside a half-written line; a stdout that takes
        nothing more cannot hold the process beyond the stop deadline.
        """
        start_stop_deadline(signum, self.logger)
        self.deliveries.output.when_idle(lambda: self._terminate(signum))

    def _terminate(self, signum: int) -> None:
        """Write the state and leave at once; downloads still running are abandoned."""
        self.logger.warning("Stopped by signal %d; emitting the latest state", signum)
        try:
            self.state_writer.write_state(self.state)
            self.state_writer.flush()
            self.deliveries.output.flush()
        except StdoutClosedError:
            self.logger.warning("stdout was closed: no final STATE was written")
        leave(128 + signum)


def _child_dropped_with(stream: Stream) -> str | None:
    """A wanted child stream that a map dropping `stream` would drop too.

    singer-sdk syncs the children of a record only if the parent's map keeps
    it; a catalog deselection, unlike a map, keeps them.
    """
    if not _dropped_by_map(stream):
        return None
    return next(
        (
            child.name
            for child in stream.child_streams
            if (child.selected or child.has_selected_descendents)
            and not _dropped_by_map(child)
        ),
        None,
    )


def _dropped_by_map(stream: Stream) -> bool:
    return isinstance(stream.stream_maps[0], RemoveRecordTransform)


def _batch_conflict(stream: Stream) -> str | None:
    """What BATCH output would drop for this stream, if anything."""
    if not (stream.selected or stream.has_selected_descendents):
        return None
    if not stream.selected:
        return f"stream '{stream.name}' deselected while its child stream is selected"
    if transform := record_transforms(stream):
        return f"{transform} on stream '{stream.name}'"
    return None
