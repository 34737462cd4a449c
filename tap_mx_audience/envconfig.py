"""Settings from `TAP_MX_AUDIENCE_*` variables, typed as a config file's would be.

singer-sdk hands number settings on as text, and stops with a traceback on an
integer or a JSON value it cannot parse. Here each value is typed by its
setting's schema; one that does not parse stays text, so validation names the
setting (never the value), as it does for a config file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def environment_config(
    properties: Mapping[str, Mapping[str, Any]],
    prefix: str,
    environ: Mapping[str, str],
) -> dict[str, Any]:
    """The settings set in `environ` as `{prefix}{NAME}`, typed by their schema."""
    return {
        name: _typed(environ[prefix + name.upper()], schema)
        for name, schema in properties.items()
        if prefix + name.upper() in environ
    }


def _typed(text: str, schema: Mapping[str, Any]) -> object:
    declared = schema.get("type", "string")
    types = [declared] if isinstance(declared, str) else declared
    if "string" in types:
        return text
    if "boolean" in types:
        word = text.strip().lower()
        return True if word in _TRUE else False if word in _FALSE else text
    try:
        return json.loads(text)
    except ValueError:
        return text
