"""BATCH output is refused where singer-sdk would write what the user excluded.

singer-sdk 0.54 writes BATCH files from the raw records: stream maps,
flattening and property selection are not applied. A run with such a
combination must stop before sending anything, with one clear line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.emulatoradmin import EmulatorAdmin, audience
from tests.support.tapdriver import run_tap


def _batch_config(tmp_path: Path) -> dict[str, Any]:
    return {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": tmp_path.as_uri(), "prefix": "mx-"},
    }


def _catalog(
    emulator: EmulatorAdmin, tmp_path: Path, deselect: tuple[str, list[str]]
) -> dict[str, Any]:
    """The discovered catalog, every stream selected but one breadcrumb."""
    discovery = run_tap(tmp_path, emulator.tap_config("aud_a"), args=("--discover",))
    assert discovery.returncode == 0, discovery.stderr
    catalog: dict[str, Any] = json.loads(discovery.stdout)
    stream_id, breadcrumb = deselect
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            selected = not (
                stream["tap_stream_id"] == stream_id
                and entry["breadcrumb"] == breadcrumb
            )
            entry["metadata"]["selected"] = selected
    return catalog


@pytest.mark.parametrize(
    ("settings", "deselect", "problem"),
    [
        (
            {"stream_maps": {"audience_members": {"member_hash": "md5(member_id)"}}},
            None,
            "stream maps on stream 'audience_members'",
        ),
        (
            {"stream_maps": {"audiences": None}},
            None,
            "stream maps on stream 'audiences'",
        ),
        (
            {},
            ("audience_members", ["properties", "audience_id"]),
            "deselected properties: audience_id on stream 'audience_members'",
        ),
        (
            {},
            ("audiences", []),
            "stream 'audiences' deselected while its child stream is selected",
        ),
    ],
    ids=["map-on-members", "map-removes-audiences", "deselected-property", "parent"],
)
def test_batch_with_maps_or_selection_is_refused(
    emulator: EmulatorAdmin,
    tmp_path: Path,
    settings: dict[str, Any],
    deselect: tuple[str, list[str]] | None,
    problem: str,
) -> None:
    emulator.configure([audience("aud_a", 5)])
    config = emulator.tap_config(
        "aud_a", batch_config=_batch_config(tmp_path), **settings
    )
    catalog = None if deselect is None else _catalog(emulator, tmp_path, deselect)
    run = run_tap(tmp_path, config, catalog=catalog)
    assert run.returncode == 1
    assert run.messages == []
    (error,) = run.error_lines()
    assert error.endswith(
        f"| Setting 'batch_config' cannot be combined with {problem}: "
        "singer-sdk writes BATCH files without applying them"
    )
    assert not list(tmp_path.glob("mx-*"))


def test_batch_alone_writes_batch_files(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure([audience("aud_a", 5)])
    config = emulator.tap_config("aud_a", batch_config=_batch_config(tmp_path))
    run = run_tap(tmp_path, config)
    assert run.returncode == 0, run.stderr
    batches = sorted(m["stream"] for m in run.messages if m["type"] == "BATCH")
    assert batches == ["audience_members", "audiences"]
    assert len(list(tmp_path.glob("mx-*.json.gz"))) == 2
