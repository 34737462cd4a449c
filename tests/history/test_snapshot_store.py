"""The snapshot store on a local directory, a file:// URL and a real S3 server.

Also the locations a `snapshot_store` value names (test_changes_mode.py runs
the malformed ones through the CLI).

The S3 side is moto in server mode on 127.0.0.1, reached through s3fs with
only an s3:// URL and the standard AWS environment variables, as the tap
will use it.
"""

from __future__ import annotations

import datetime
import itertools
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import fsspec
import pytest

from tap_mx_audience.audience import AudienceRef
from tap_mx_audience.errors import SettingsError
from tap_mx_audience.history.buckets import BUCKETS, MemberBuckets
from tap_mx_audience.history.store import SnapshotRef, SnapshotStore
from tap_mx_audience.history.storecalls import SnapshotError, SnapshotStoreError
from tap_mx_audience.storeurl import store_location
from tests.support.s3server import BUCKET, CREDENTIALS

AUDIENCE = AudienceRef("high_value_members", "INST_DEMO")
DAY = datetime.date(2026, 11, 20)
HOSTILE = ["plain", "a\nb", 'q"uote', "back\\slash", "\\2", "é🦀", "x" * 512]


@pytest.fixture(params=["directory", "file-url", "s3"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store root of each kind."""
    if request.param == "directory":
        return str(tmp_path / "store")
    if request.param == "file-url":
        return f"file://{tmp_path}/store"
    request.getfixturevalue("s3_endpoint")
    return f"s3://{BUCKET}/{uuid.uuid4().hex}/store"


@pytest.fixture
def bucketed() -> Iterator[MemberBuckets]:
    ids = [f"{n:032x}" for n in range(3000)] + HOSTILE + HOSTILE[:2]
    with MemberBuckets([ids[:1000], ids[1000:]]) as listed:
        yield listed


def write(store: SnapshotStore, listed: MemberBuckets, day: int = 0) -> SnapshotRef:
    return store.write(
        AUDIENCE, listed, listed.fingerprint, DAY + datetime.timedelta(day)
    )


def tamper(store_url: str, name: str, change: Callable[[bytes], bytes | None]) -> None:
    """Change (or delete, when `change` returns None) one stored snapshot."""
    store = SnapshotStore(store_url)
    fs, _ = fsspec.core.url_to_fs(store_url, skip_instance_cache=True)
    path = f"{store.folder(AUDIENCE)}/{name}"
    changed = change(fs.cat_file(path))
    if changed is None:
        fs.rm_file(path)
    else:
        fs.pipe_file(path, changed)


def test_round_trip_keeps_every_member_bucket_by_bucket(
    store_url: str, bucketed: MemberBuckets
) -> None:
    store = SnapshotStore(store_url)

    ref = write(store, bucketed)

    assert store.snapshots(AUDIENCE) == [ref]
    assert ref.sequence == 1
    assert ref.member_count == bucketed.count == 3009
    assert ref.updated_on == DAY
    assert ref.name == f"000000000001-{bucketed.fingerprint.replace(':', '-')}.snap"
    read = list(store.read(AUDIENCE, ref))
    assert [index for index, _ in read] == list(range(BUCKETS))
    assert read == list(bucketed.sorted_buckets())
    members = Counter(itertools.chain.from_iterable(ids for _, ids in read))
    assert members["a\nb"] == 2
    assert members["x" * 512] == 1


def test_sequence_orders_the_snapshots_of_each_audience(
    store_url: str, bucketed: MemberBuckets
) -> None:
    store = SnapshotStore(store_url)
    other = AudienceRef("high_value_members", "INST_OTHER")

    refs = [write(store, bucketed, day) for day in range(3)]
    store.write(other, bucketed, bucketed.fingerprint, DAY)

    assert [ref.sequence for ref in refs] == [1, 2, 3]
    assert store.snapshots(AUDIENCE) == refs
    assert [ref.updated_on for ref in refs] == [
        DAY + datetime.timedelta(d) for d in range(3)
    ]
    assert [ref.sequence for ref in store.snapshots(other)] == [1]


def test_hostile_audience_names_get_one_folder_each_inside_the_root(
    tmp_path: Path, bucketed: MemberBuckets
) -> None:
    store = SnapshotStore(str(tmp_path / "store"))
    names = ["..", ".", "/", "a/../b", "a%2F", "é\n\\", "s" * 512]
    audiences = [AudienceRef(name, name) for name in names]

    for audience in audiences:
        store.write(audience, bucketed, bucketed.fingerprint, DAY)

    snapshots = sorted((tmp_path / "store").rglob("*.snap"))
    assert len(snapshots) == len(names)
    assert all(len(p.relative_to(tmp_path / "store").parts) == 3 for p in snapshots)
    assert all(len(part.encode()) <= 255 for p in snapshots for part in p.parts)
    assert all(len(store.snapshots(audience)) == 1 for audience in audiences)


def test_a_write_that_fails_midway_leaves_no_snapshot(
    store_url: str, tmp_path: Path
) -> None:
    store = SnapshotStore(store_url)

    def cut_short() -> Iterator[list[str]]:
        yield [f"id-{n}" for n in range(5000)]

    with MemberBuckets(cut_short(), str(tmp_path), spill_bytes=0) as listed:
        next(tmp_path.glob("mx-buckets-*/100")).unlink()  # bucket 100 is lost
        with pytest.raises(FileNotFoundError):
            write(store, listed)

    assert store.snapshots(AUDIENCE) == []
    if "://" not in store_url:
        assert list(Path(store_url).rglob("*")) == [
            Path(store_url) / "INST_DEMO",
            Path(store_url) / "INST_DEMO" / "high_value_members",
        ]


def test_a_flipped_byte_fails_verification_naming_the_snapshot(
    store_url: str, bucketed: MemberBuckets
) -> None:
    store = SnapshotStore(store_url)
    ref = write(store, bucketed)

    def flip(data: bytes) -> bytes:
        middle = len(data) // 2
        return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]

    tamper(store_url, ref.name, flip)

    with pytest.raises(SnapshotError, match=ref.name) as failure:
        list(store.read(AUDIENCE, ref))
    assert "snapshot_store" in str(failure.value)
    assert "\n" not in str(failure.value)


def test_a_deleted_snapshot_fails_before_any_bucket(
    store_url: str, bucketed: MemberBuckets
) -> None:
    store = SnapshotStore(store_url)
    ref = write(store, bucketed)
    tamper(store_url, ref.name, lambda _: None)

    with pytest.raises(SnapshotError, match=f"snapshot '{ref.name}' .* is missing"):
        next(store.read(AUDIENCE, ref))


def test_a_cut_short_snapshot_fails_before_any_bucket(
    store_url: str, bucketed: MemberBuckets
) -> None:
    store = SnapshotStore(store_url)
    ref = write(store, bucketed)
    tamper(store_url, ref.name, lambda data: data[:-10])

    with pytest.raises(SnapshotError, match="bytes, not the"):
        next(store.read(AUDIENCE, ref))


def test_prune_removes_older_snapshots_and_stale_part_files(
    store_url: str, bucketed: MemberBuckets
) -> None:
    store = SnapshotStore(store_url)
    refs = [write(store, bucketed, day) for day in range(4)]
    fs, _ = fsspec.core.url_to_fs(store_url, skip_instance_cache=True)
    stale = f"{store.folder(AUDIENCE)}/{refs[3].name}.0123abcd.part"
    fs.pipe_file(stale, b"left by a killed run")

    store.prune(AUDIENCE, keep_from_sequence=3)

    assert store.snapshots(AUDIENCE) == refs[2:]
    assert not fs.exists(stale)
    assert list(store.read(AUDIENCE, refs[2])) == list(bucketed.sorted_buckets())


def test_an_unreachable_store_is_retried_then_fails_in_one_line() -> None:
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
    started = time.monotonic()

    with pytest.raises(SnapshotStoreError) as failure:
        store.snapshots(AUDIENCE)

    message = str(failure.value)
    assert time.monotonic() - started < 30
    assert message.startswith(
        "snapshot_store 's3://snapshots/prefix': list failed after 3 tries"
    )
    assert "\n" not in message
    assert "private" not in message
    assert CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in message


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
    with pytest.raises(SettingsError, match=r"^Setting 'snapshot_store' is not a"):
        SnapshotStore("nosuchscheme://bucket/x")


def test_a_list_whose_members_do_not_match_its_fingerprint_is_not_stored(
    tmp_path: Path, bucketed: MemberBuckets
) -> None:
    store = SnapshotStore(str(tmp_path))

    with pytest.raises(SnapshotError, match="do not match its fingerprint"):
        store.write(AUDIENCE, bucketed, "xxh3sum:1:0000000000000000", DAY)

    assert store.snapshots(AUDIENCE) == []


@pytest.mark.usefixtures("s3_endpoint")
def test_a_missing_bucket_fails_the_write_in_one_line(bucketed: MemberBuckets) -> None:
    store = SnapshotStore(
        "s3://no-such-bucket/snapshots", tries=2, first_wait_seconds=0
    )

    with pytest.raises(SnapshotStoreError) as failure:
        write(store, bucketed)

    assert str(failure.value).startswith(
        "snapshot_store 's3://no-such-bucket/snapshots': upload failed after 1 try"
    )
    assert CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in str(failure.value)


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
