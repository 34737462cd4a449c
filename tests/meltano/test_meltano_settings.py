"""meltano.yml and the Hub definition describe exactly the tap's settings.

Both are written by hand; these tests fail as soon as a setting is added,
renamed, made required or secret in tap.py and not in them (or the reverse).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest

from tests.support.meltano_support import HUB_DEFINITION, REPO_ROOT, load_yaml
from tests.support.tapdriver import TAP_EXECUTABLE


@cache
def _about() -> dict[str, Any]:
    completed = subprocess.run(
        [TAP_EXECUTABLE, "--about", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    about: dict[str, Any] = json.loads(completed.stdout)
    return about


def _meltano_extractor() -> dict[str, Any]:
    extractors: list[dict[str, Any]] = load_yaml(REPO_ROOT / "meltano.yml")["plugins"][
        "extractors"
    ]
    return next(e for e in extractors if e["name"] == "tap-mx-audience")


def _hub_definition() -> dict[str, Any]:
    return load_yaml(HUB_DEFINITION)


DEFINITIONS: dict[str, Callable[[], dict[str, Any]]] = {
    "meltano.yml": _meltano_extractor,
    "hub": _hub_definition,
}


def _expected_kind(schema: dict[str, Any]) -> str:
    """The Meltano setting kind a JSON-schema property maps to."""
    types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    (json_type,) = [t for t in types if t != "null"]
    if "enum" in schema:
        return "options"
    if schema.get("format") in {"date", "date-time"}:
        return "date_iso8601"
    return {
        "string": "string",
        "integer": "integer",
        "number": "decimal",
        "boolean": "boolean",
        "array": "array",
        "object": "object",
    }[json_type]


@pytest.mark.parametrize("source", sorted(DEFINITIONS))
def test_settings_match_the_tap(source: str) -> None:
    definition = DEFINITIONS[source]()
    properties: dict[str, dict[str, Any]] = _about()["settings"]["properties"]
    settings = {s["name"]: s for s in definition["settings"]}
    assert len(settings) == len(definition["settings"]), "a setting is listed twice"
    assert set(settings) == set(properties)
    for name, schema in properties.items():
        setting = settings[name]
        secret = bool(schema.get("secret"))
        assert bool(setting.get("sensitive")) == secret, name
        kind = setting["kind"]
        if source == "hub" and secret:
            assert kind == "password", name
        else:
            assert kind == _expected_kind(schema), name
        assert setting["label"] == schema["title"], name
        assert setting["description"] == schema["description"], name
        if kind == "options":
            assert [o["value"] for o in setting["options"]] == schema["enum"], name


@pytest.mark.parametrize("source", sorted(DEFINITIONS))
def test_required_settings_and_capabilities_match_the_tap(source: str) -> None:
    definition = DEFINITIONS[source]()
    about = _about()
    assert [sorted(group) for group in definition["settings_group_validation"]] == [
        sorted(about["settings"]["required"])
    ]
    assert sorted(definition["capabilities"]) == sorted(about["capabilities"])
    assert definition["namespace"] == "tap_mx_audience"
    assert definition["executable"] == "tap-mx-audience"


def test_hub_marks_no_id_setting_as_a_secret() -> None:
    """The Hub's generator marks every `*id*` setting a password; ours are not."""
    id_settings = [
        s for s in load_yaml(HUB_DEFINITION)["settings"] if "id" in s["name"].split("_")
    ]
    assert {s["name"] for s in id_settings} >= {"client_id"}
    for setting in id_settings:
        assert setting["kind"] != "password", setting["name"]
        assert not setting.get("sensitive"), setting["name"]


def test_hub_definition_is_in_the_hub_layout() -> None:
    hub = load_yaml(HUB_DEFINITION)
    assert HUB_DEFINITION.parent.name == hub["name"] == "tap-mx-audience"
    assert HUB_DEFINITION.stem == hub["variant"]
    assert list(hub) == sorted(hub), "the Hub keeps keys sorted"
    names = [s["name"] for s in hub["settings"]]
    assert names == sorted(names), "the Hub keeps settings sorted by name"
