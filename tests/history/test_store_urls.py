"""What `snapshot_store` names, through the real CLI: refused at once, or a folder.

A value that looks like a URL but is no supported one stops the run before
any request or directory; a `file://` URL is its decoded local path.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.emulatoradmin import EmulatorAdmin, audience
from tests.support.tapdriver import run_tap

MARKER = "leakymarker"

MALFORMED_STORES = {
    "one-slash": (f"s3:/{MARKER}/x", "must be a directory, a file:// URL or"),
    "no-slash": (f"s3:{MARKER}", "must be a directory, a file:// URL or"),
    "ftp": (f"ftp://{MARKER}/x", "must be a directory, a file:// URL or"),
    "http": (f"http://{MARKER}.example/x", "must be a directory, a file:// URL or"),
    "memory": (f"memory://{MARKER}", "must be a directory, a file:// URL or"),
    "bad-ipv6": (f"s3://[{MARKER}/x", "must be a directory, a file:// URL or"),
    "no-bucket": (f"s3:///{MARKER}", "needs a bucket or container after s3://"),
    "file-other-host": (f"file://{MARKER}/x", "is a file:// URL of another host"),
    "file-query": (f"file:///tmp/x?{MARKER}", "is a file:// URL with a query string"),
    "file-no-path": ("file://localhost", "must be file:///path to a directory"),
}


@pytest.mark.parametrize(
    ("value", "message"), MALFORMED_STORES.values(), ids=MALFORMED_STORES.keys()
)
def test_a_malformed_store_url_stops_the_run_before_anything(
    emulator: EmulatorAdmin, tmp_path: Path, value: str, message: str
) -> None:
    """Nothing on stdout, no request, no directory: not even `./s3:`."""
    emulator.configure([audience("aud_a", 3)])
    config = emulator.tap_config("aud_a", snapshot_store=value)
    run = run_tap(tmp_path, config, cwd=tmp_path)
    assert f"Setting 'snapshot_store' {message}" in run.only_error()
    assert MARKER not in run.stderr
    assert emulator.requests() == []
    assert [path.name for path in tmp_path.iterdir()] == ["config.json"]


def test_a_file_url_store_is_its_decoded_directory(
    emulator: EmulatorAdmin, tmp_path: Path
) -> None:
    emulator.configure([audience("aud_a", 3)])
    store = tmp_path / "with pct"
    config = emulator.tap_config("aud_a", snapshot_store=store.as_uri())
    assert config["snapshot_store"].endswith("/with%20pct")
    run = run_tap(tmp_path, config, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert len(list(store.rglob("*.table"))) == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "config.json",
        "with pct",
    ]
