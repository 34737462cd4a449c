"""TapMxAudience: settings, streams, and how a sync ends."""

from __future__ import annotations

import copy
import io
import logging
import os
import sys
from functools import cached_property
from pathlib import PurePath
from typing import IO, TYPE_CHECKING, Any, ClassVar

import click
from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.helpers._util import load_json
from singer_sdk.helpers.capabilities import PluginCapabilities, TapCapabilities
from singer_sdk.plugin_base import JSONSchemaValidator, _ConfigInput
from typing_extensions import override

from tap_mx_audience import statefile
from tap_mx_audience.delivery.fastpath import record_transforms
from tap_mx_audience.delivery.output import BufferedSingerWriter
from tap_mx_audience.delivery.statewriter import ThrottledStateWriter
from tap_mx_audience.envconfig import environment_config
from tap_mx_audience.errors import SettingsError, StateError, TapMxAudienceError
from tap_mx_audience.services import SyncServices
from tap_mx_audience.settings import (
    MAX_RETRIES,
    MAX_RETRY_AFTER_SECONDS,
    PARALLEL_DOWNLOADS,
    REQUEST_TIMEOUT_SECONDS,
    NumberSetting,
    Settings,
    unknown_settings,
)
from tap_mx_audience.streams import (
    AudienceMembersStream,
    AudiencesStream,
    MembershipChangesStream,
)

if TYPE_CHECKING:
    from types import FrameType

    from singer_sdk.helpers.capabilities import CapabilitiesEnum
    from singer_sdk.streams import Stream

EXIT_FAILED = 1

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
            th.StringType(allowed_values=["json", "csv"]),
            default="json",
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
            from_env = environment_config(self.settings_schema(), prefix, os.environ)
            self.logger.info(
                "Settings read from the environment by the tap itself: %s",
                ", ".join(from_env),
            )
            config, parse_env_config = {**(config or {}), **from_env}, False
        super().__init__(config=config, parse_env_config=parse_env_config, **kwargs)

    @classmethod
    def settings_schema(cls) -> dict[str, Any]:
        """Every setting's schema by name: the tap's own and singer-sdk's built-in."""
        schema = copy.deepcopy(cls.config_jsonschema)
        cls.append_builtin_config(schema)
        properties: dict[str, Any] = schema["properties"]
        return properties

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
        try:
            text = statefile.checked_text(value.read())
        except StateError as exc:
            cls.logger.error("%s", exc)  # noqa: TRY400 - one line, no traceback
            ctx.exit(EXIT_FAILED)
        return None if text is None else io.StringIO(text)

    @override
    def load_state(self, state: dict[str, Any]) -> None:
        """Check the state's layout and name the bookmarks that cannot be used."""
        if state:
            state = statefile.usable_state(
                state, self.streams, self.services.settings.audiences
            )
        super().load_state(state)

    @override
    def discover_streams(self) -> list[Stream]:
        return [
            AudiencesStream(self, self.services),
            AudienceMembersStream(self, self.services),
            MembershipChangesStream(self, self.services),
        ]

    @override
    def setup_mapper(self) -> None:
        """Refuse BATCH output that would ignore stream maps or selection.

        This is the first point where both the catalog and the stream maps
        are known, before anything is written.
        """
        super().setup_mapper()
        changes, members = (
            self.streams[name] for name in ("membership_changes", "audience_members")
        )
        if changes.selected and not members.selected:
            msg = (
                "Stream 'membership_changes' needs stream 'audience_members' "
                "selected: its bookmarks record what was delivered"
            )
            raise SettingsError(msg)
        if self.config.get("batch_config"):
            for stream in self.streams.values():
                if problem := _batch_conflict(stream):
                    raise SettingsError(
                        f"Setting 'batch_config' cannot be combined with {problem}: "
                        "singer-sdk writes BATCH files without applying them"
                    )

    @cached_property
    def services(self) -> SyncServices:
        """What the streams read from and write through in this sync."""
        assert isinstance(self.message_writer, BufferedSingerWriter)  # noqa: S101
        return SyncServices(
            self.config,
            self.message_writer,
            lambda failure: self.logger.error("%s", failure),
        )

    @property
    @override
    def state_writer(self) -> ThrottledStateWriter:
        """STATE at a bounded rate, written without the SDK's copies of the state."""
        return self.services.state_writer

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Validate without ever quoting a value (the SDK's messages do).

        The tap's own rules come first, then the SDK's built-in settings
        (stream maps, batch config, ...) against the JSON schema, reported by
        path and rule only.
        """
        for line in unknown_settings(self.config, self.settings_schema()):
            self.logger.warning("%s", line)
        try:
            Settings.from_config(self.config)
            errors = self._schema_errors()
        except SettingsError as exc:
            errors = [str(exc)]
        if errors and raise_errors:
            raise SettingsError(errors[0])
        return errors

    def _schema_errors(self) -> list[str]:
        schema = self.config_jsonschema
        self.append_builtin_config(schema)
        validator = JSONSchemaValidator(schema)
        return [
            f"Setting '{'.'.join(map(str, error.absolute_path)) or '(root)'}' "
            f"does not satisfy '{error.validator}: {error.validator_value}'"
            for error in validator.iter_errors(dict(self.config))
            if error.validator != "required"
        ]

    @classmethod
    @override
    def invoke(  # type: ignore[override]
        cls,
        *,
        about: bool = False,
        about_format: str | None = None,
        config: Any = None,
        state: IO[str] | None = None,
        catalog: IO[str] | None = None,
    ) -> None:
        """Run a sync; one line on stderr and a non-zero exit when it fails.

        Differs from `Tap.invoke` only in ending: audiences that failed along
        the way (after every other audience was delivered) fail the run.
        """
        super(Tap, cls).invoke(about=about, about_format=about_format)
        cls.print_version(print_fn=cls.logger.info)
        config = config or _ConfigInput()
        tap: TapMxAudience | None = None
        try:
            tap = cls(
                config=config.config,
                state=None if state is None else load_json(state.read()),
                catalog=None if catalog is None else load_json(catalog.read()),
                parse_env_config=config.parse_env,
                validate_config=True,
            )
            tap.services.client.authenticate()
            _ = tap.services.snapshot_store  # a missing backend stops the run here
            tap.sync_all()
            tap.services.state_writer.flush()
            cls.logger.info("%s", tap.services.summary.line())
            tap.services.raise_for_failures()
        except TapMxAudienceError as exc:
            cls.logger.error("%s", exc)  # noqa: TRY400 - one line, no traceback
            sys.exit(EXIT_FAILED)
        finally:
            if tap is not None:
                tap.services.close()

    @override
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """Emit the latest state, then exit non-zero: the run did not finish.

        singer-sdk exits 0 on SIGTERM, which tells an orchestrator that a
        cut-short run succeeded. A write in progress is completed first, so
        the STATE never lands inside a half-written line.
        """
        self.services.output.when_idle(lambda: self._terminate(signum))

    def _terminate(self, signum: int) -> None:
        """Write the state and leave at once; downloads still running are abandoned."""
        self.logger.warning("Stopped by signal %d; emitting the latest state", signum)
        self.state_writer.write_state(self.state)
        self.state_writer.flush()
        self.services.output.flush()
        logging.shutdown()
        os._exit(128 + signum)


def _batch_conflict(stream: Stream) -> str | None:
    """What BATCH output would drop for this stream, if anything."""
    if not (stream.selected or stream.has_selected_descendents):
        return None
    if not stream.selected:
        return f"stream '{stream.name}' deselected while its child stream is selected"
    if transform := record_transforms(stream):
        return f"{transform} on stream '{stream.name}'"
    return None
