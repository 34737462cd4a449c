"""The snapshot store's files on a local directory, a file:// URL and a real S3 server.

The S3 side is moto in server mode on 127.0.0.1, reached through s3fs with
only an s3:// URL and the standard AWS environment variables, as the tap
will use it.
"""

from __future__ import annotations

import socket
import time
import uuid
from pathlib import Path

import pytest

from tap_mx_audience.audience import AudienceRef
from tap_mx_audience.errors import SettingsError
from tap_mx_audience.history.store import SnapshotStore
from tap_mx_audience.history.storecalls import SnapshotStoreError
from tap_mx_audience.storeurl import store_location
from tests.support.s3server import BUCKET, CREDENTIALS

AUDIENCE = AudienceRef("high_value_members", "INST_DEMO")


@pytest.fixture(params=["directory", "file-url", "s3"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store root of each kind."""
    if request.param == "directory":
        return str(tmp_path / "store")
    if request.param == "file-url":
        return store_location(f"file://{tmp_path}/store")
    request.getfixturevalue("s3_endpoint")
    return f"s3://{BUCKET}/{uuid.uuid4().hex}/store"


def test_a_name_is_created_once_and_read_back(store_url: str, tmp_path: Path) -> None:
    store = SnapshotStore(store_url)
    first, second = tmp_path / "first", tmp_path / "second"
    first.write_bytes(b"one")
    second.write_bytes(b"two")
    path = f"{store.folder(AUDIENCE)}/000000000001.table"

    created = [store.create(path, first), store.create(path, second)]

    assert created == [True, False]
    copy = tmp_path / "copy"
    store.fetch(path, copy)
    assert copy.read_bytes() == b"one"
    assert store.names(store.folder(AUDIENCE)) == ["000000000001.table"]


def test_hostile_audience_names_get_one_folder_each_inside_the_root(
    tmp_path: Path,
) -> None:
    store = SnapshotStore(str(tmp_path / "store"))
    local = tmp_path / "file"
    local.write_bytes(b"x")
    names = ["..", ".", "/", "a/../b", "a%2F", "é\n\\", "s" * 512]
    audiences = [AudienceRef(name, name) for name in names]

    for audience in audiences:
        assert store.create(f"{store.folder(audience)}/f", local)

    files = sorted((tmp_path / "store").rglob("f"))
    assert len(files) == len(names)
    assert all(len(p.relative_to(tmp_path / "store").parts) == 3 for p in files)
    assert all(len(part.encode()) <= 255 for p in files for part in p.parts)


def test_an_unreachable_store_is_retried_once_per_run_then_fails_at_once() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    store = SnapshotStore(
        "s3://snapshots/prefix?versionId=private",
        {
            "key": CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "secret": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            "client_kwargs": {"endpoint_url": f"http://127.0.0.1:{closed_port}"},
            "config_kwargs": {"retries": {"max_attempts": 1}},  # s3fs retries too
        },
        tries=3,
        first_wait_seconds=0.01,
    )

    with pytest.raises(SnapshotStoreError) as first:
        store.names(store.folder(AUDIENCE))
    started = time.monotonic()
    with pytest.raises(SnapshotStoreError) as later:
        store.names(store.folder(AudienceRef("other", "INST_DEMO")))

    assert time.monotonic() - started < 0.1
    message = str(first.value)
    assert message.startswith(
        "snapshot_store 's3://snapshots/prefix': list failed after 3 tries"
    )
    assert message.endswith("not tried again in this run")
    assert str(later.value) == message
    assert "\n" not in message
    assert "private" not in message
    assert CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in message


@pytest.mark.usefixtures("s3_endpoint")
def test_a_missing_bucket_fails_the_write_in_one_line(tmp_path: Path) -> None:
    store = SnapshotStore(
        "s3://no-such-bucket/snapshots", tries=2, first_wait_seconds=0
    )
    local = tmp_path / "file"
    local.write_bytes(b"x")

    with pytest.raises(SnapshotStoreError) as failure:
        store.create(f"{store.folder(AUDIENCE)}/000000000001.table", local)

    assert str(failure.value).startswith(
        "snapshot_store 's3://no-such-bucket/snapshots': upload failed after 1 try"
    )
    assert CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in str(failure.value)


@pytest.mark.parametrize(
    ("url", "extra"), [("gs://bucket/snapshots", "gcs"), ("az://container/x", "azure")]
)
def test_a_missing_backend_names_the_setting_and_the_extra(
    url: str, extra: str
) -> None:
    with pytest.raises(SettingsError) as failure:
        SnapshotStore(url)

    assert str(failure.value).startswith("Setting 'snapshot_store' uses ")
    assert f"pip install 'tap-mx-audience[{extra}]'" in str(failure.value)


def test_an_unknown_scheme_names_the_setting() -> None:
    with pytest.raises(SettingsError, match=r"^Setting 'snapshot_store' is not "):
        SnapshotStore("nosuchscheme://bucket/x")


LOCATIONS = {
    "relative-directory": ("snapshots/x", "snapshots/x"),
    "absolute-directory": ("/srv/mx snapshots", "/srv/mx snapshots"),
    "colon-after-a-dot": ("./s3:/x", "./s3:/x"),
    "file-url-decoded": ("file:///srv/with%20pct", "/srv/with pct"),
    "file-url-localhost": ("file://localhost/srv/x", "/srv/x"),
    "s3": ("s3://bucket/prefix", "s3://bucket/prefix"),
    "scheme-lowercased": ("GS://bucket/x", "gs://bucket/x"),
    "azure-account": (
        "abfs://box@acct.dfs.core.windows.net/x",
        "abfs://box@acct.dfs.core.windows.net/x",
    ),
}


@pytest.mark.parametrize(
    ("value", "location"), LOCATIONS.values(), ids=LOCATIONS.keys()
)
def test_a_store_location_is_a_directory_or_a_supported_url(
    value: str, location: str
) -> None:
    assert store_location(value) == location
