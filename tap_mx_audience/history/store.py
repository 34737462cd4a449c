"""The snapshot store: the member set of every delivered list, per audience.

Changes mode diffs a served list against the snapshots of earlier deliveries,
so they live outside the run: in a local directory or any fsspec URL (s3://,
gs://, az://; credentials come from each cloud's usual environment, e.g.
`AWS_ENDPOINT_URL` and `AWS_ACCESS_KEY_ID` for S3, or from the storage
options, `snapshot_store_options`).

Layout: `{root}/{institution_public_id}/{id_or_slug}/{sequence:012d}-{digest}.snap`,
each field percent-encoded into one safe path segment. The sequence orders
the snapshots of an audience, the digest names their content. A snapshot is
built in a local file and then published in one step (a rename within the
directory, or one upload), so no reader ever sees part of one. In a local
directory, the folders and files the store creates are its owner's only: they
hold a bank's customer ids.
"""

from __future__ import annotations

import datetime
import io
import os
import re
import string
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, Any, BinaryIO

import xxhash
from fsspec.implementations.local import LocalFileSystem

from tap_mx_audience.audience import AudienceRef
from tap_mx_audience.history.buckets import MemberBuckets
from tap_mx_audience.history.snapshotfile import (
    HEADER_READ_BYTES,
    SnapshotFormatError,
    SnapshotHeader,
    read_buckets,
    read_header,
    write_snapshot,
)
from tap_mx_audience.history.storecalls import (
    SETTING,
    SnapshotError,
    StoreCalls,
    redacted,
)
from tap_mx_audience.history.storefs import store_filesystem
from tap_mx_audience.scratch import scratch_directory

_NAME = re.compile(
    r"(?P<sequence>\d{12})-xxh3sum-(?P<count>\d+)-(?P<hex>[0-9a-f]{16})\.snap"
)
_PART_SUFFIX = ".part"
_SAFE_BYTES = frozenset((string.ascii_letters + string.digits + "_-").encode())
_MAX_SEGMENT = 200


@dataclass(frozen=True)
class SnapshotRef:
    """One snapshot of an audience, as listed in the store."""

    name: str
    sequence: int
    fingerprint: str
    updated_on: datetime.date
    member_count: int


def segment(value: str) -> str:
    """One path segment for any string: percent-encode all but [A-Za-z0-9_-].

    So ".", ".." and "/" cannot escape the folder; a segment that would pass
    file-name length limits keeps a prefix and a hash of the whole ("~" never
    appears in an encoded string, so the two forms cannot collide).
    """
    encoded = "".join(
        chr(byte) if byte in _SAFE_BYTES else f"%{byte:02X}"
        for byte in value.encode("utf-8", "surrogatepass")
    )
    if len(encoded) > _MAX_SEGMENT:
        digest = xxhash.xxh3_128_hexdigest(encoded.encode())
        return f"{encoded[: _MAX_SEGMENT - 33]}~{digest}"
    return encoded


def _private_folder(path: Path) -> None:
    """Create a folder and its missing parents owner-only (0700), whatever the umask.

    Folders that already exist keep the mode their owner gave them.
    """
    if path.is_dir():
        return
    _private_folder(path.parent)
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        return  # made meanwhile by another run: it keeps its maker's mode
    path.chmod(0o700)  # the umask may have taken owner bits as well


def _private_file(path: str) -> BinaryIO:
    """A new file to write, owner-only (0600) from the start, whatever the umask."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.fchmod(descriptor, 0o600)  # the umask may have taken owner bits as well
    return os.fdopen(descriptor, "wb")


class SnapshotStore:
    """Where snapshots are written, listed, read back and pruned."""

    def __init__(
        self,
        url: str,
        storage_options: Mapping[str, Any] | None = None,
        *,
        tries: int = 4,
        first_wait_seconds: float = 0.5,
    ) -> None:
        """Open the URL's filesystem with the storage options, checked first."""
        self.label = redacted(url)
        self._retrying = StoreCalls(self.label, tries, first_wait_seconds)
        self._fs, root = store_filesystem(url, storage_options or {})
        self._root = root.rstrip("/")
        self._local = isinstance(self._fs, LocalFileSystem)

    def folder(self, audience: AudienceRef) -> str:
        """The audience's folder in the store."""
        return "/".join(
            (
                self._root,
                segment(audience.institution_public_id),
                segment(audience.id_or_slug),
            )
        )

    def snapshots(self, audience: AudienceRef) -> list[SnapshotRef]:
        """The audience's snapshots, oldest first; reads a few KiB of each."""
        return [
            self._describe(audience, name, match)
            for name, match in self._listed(audience)
        ]

    def write(
        self,
        audience: AudienceRef,
        bucketed: MemberBuckets,
        fingerprint: str,
        updated_on: datetime.date,
    ) -> SnapshotRef:
        """Store a list's member set as the audience's next snapshot, atomically."""
        if bucketed.fingerprint != fingerprint:
            raise SnapshotError(
                f"{audience.label}: the list's members do not match its fingerprint"
            )
        folder = self.folder(audience)
        sequence = 1 + max(
            (int(match["sequence"]) for _, match in self._listed(audience)), default=0
        )
        name = f"{sequence:012d}-{fingerprint.replace(':', '-')}.snap"
        header = SnapshotHeader(fingerprint, bucketed.count, updated_on)
        if self._local:
            _private_folder(Path(folder))
            self._publish_local(f"{folder}/{name}", header, bucketed)
        else:
            with tempfile.TemporaryDirectory(
                prefix="mx-snapshot-", dir=scratch_directory()
            ) as scratch:
                local = Path(scratch) / name
                with local.open("wb") as file:
                    write_snapshot(file, header, bucketed.sorted_buckets())
                self._retrying(
                    "upload", lambda: self._fs.put_file(local, f"{folder}/{name}")
                )
        return SnapshotRef(name, sequence, fingerprint, updated_on, bucketed.count)

    def _publish_local(
        self, path: str, header: SnapshotHeader, bucketed: MemberBuckets
    ) -> None:
        part = f"{path}.{uuid.uuid4().hex}{_PART_SUFFIX}"
        try:
            with _private_file(part) as file:
                write_snapshot(file, header, bucketed.sorted_buckets())
                file.flush()
                os.fsync(file.fileno())
            Path(part).replace(path)
        except BaseException:
            Path(part).unlink(missing_ok=True)
            raise

    @contextmanager
    def open(self, audience: AudienceRef, ref: SnapshotRef) -> Iterator[SnapshotReader]:
        """A checked reader of one snapshot: missing or cut short fails here."""
        label = self._label(audience, ref.name)
        path = f"{self.folder(audience)}/{ref.name}"
        with self._local_copy(label, path) as local, local.open("rb") as file:
            yield SnapshotReader(label, file, ref, local.stat().st_size)

    def read(
        self, audience: AudienceRef, ref: SnapshotRef
    ) -> Iterator[tuple[int, list[str]]]:
        """A snapshot's buckets in order, each checked before it is handed out."""
        with self.open(audience, ref) as reader:
            yield from reader.buckets()

    def prune(self, audience: AudienceRef, keep_from_sequence: int) -> None:
        """Remove the audience's snapshots before a sequence, and stale part files."""
        folder = self.folder(audience)
        for name in self._names(audience):
            match = _NAME.fullmatch(name)
            stale = match is None and name.endswith(_PART_SUFFIX)
            old = match is not None and int(match["sequence"]) < keep_from_sequence
            if stale or old:
                self._retrying("delete", partial(self._remove, f"{folder}/{name}"))

    def _remove(self, path: str) -> None:
        """Delete a file; one already gone is what was wanted."""
        with suppress(FileNotFoundError):
            self._fs.rm_file(path)

    def _names(self, audience: AudienceRef) -> list[str]:
        folder = self.folder(audience)

        def listing() -> list[str]:
            try:
                paths = self._fs.ls(folder, detail=False, refresh=True)
            except FileNotFoundError:
                return []
            return [str(path).rstrip("/").rsplit("/", 1)[-1] for path in paths]

        return self._retrying("list", listing)

    def _listed(self, audience: AudienceRef) -> list[tuple[str, re.Match[str]]]:
        named = ((name, _NAME.fullmatch(name)) for name in self._names(audience))
        found = [(name, match) for name, match in named if match is not None]
        return sorted(found, key=lambda item: int(item[1]["sequence"]))

    def _describe(
        self, audience: AudienceRef, name: str, match: re.Match[str]
    ) -> SnapshotRef:
        path = f"{self.folder(audience)}/{name}"
        fingerprint = f"xxh3sum:{match['count']}:{match['hex']}"
        label = self._label(audience, name)
        start = self._retrying(
            "read",
            lambda: self._fs.cat_file(path, start=0, end=HEADER_READ_BYTES),
            missing=label,
        )
        try:
            header, _ = read_header(io.BytesIO(start))
        except SnapshotFormatError as exc:
            raise SnapshotError(f"{label} {exc}") from exc
        if header.fingerprint != fingerprint:
            raise SnapshotError(f"{label} has a header that contradicts its name")
        return SnapshotRef(
            name,
            int(match["sequence"]),
            fingerprint,
            header.updated_on,
            header.member_count,
        )

    def _label(self, audience: AudienceRef, name: str) -> str:
        """How messages name one snapshot: audience, file and store."""
        return f"{audience.label}: snapshot '{name}' in {SETTING} '{self.label}'"

    @contextmanager
    def _local_copy(self, label: str, path: str) -> Iterator[Path]:
        """The snapshot as a local file: itself, or a download of it."""
        if self._local:
            if not Path(path).is_file():
                raise SnapshotError(f"{label} is missing")
            yield Path(path)
            return
        with tempfile.TemporaryDirectory(
            prefix="mx-snapshot-", dir=scratch_directory()
        ) as scratch:
            local = Path(scratch) / "download.snap"
            self._retrying(
                "download", lambda: self._fs.get_file(path, local), missing=label
            )
            yield local


class SnapshotReader:
    """One open snapshot: its list's date, and its buckets in order."""

    def __init__(
        self, label: str, file: IO[bytes], ref: SnapshotRef, size: int
    ) -> None:
        """Check the header and the size now: a bad file fails before any bucket."""
        self._label = label
        self._file = file
        try:
            self._header, declared_size = read_header(file)
        except SnapshotFormatError as exc:
            raise SnapshotError(f"{label} {exc}") from exc
        if self._header.fingerprint != ref.fingerprint:
            raise SnapshotError(f"{label} has a header that contradicts its name")
        if size != declared_size:
            raise SnapshotError(
                f"{label} is {size} bytes, not the {declared_size} it was written with"
            )
        self.updated_on = self._header.updated_on

    def buckets(self) -> Iterator[tuple[int, list[str]]]:
        """The buckets in order; a corrupt one raises before it is handed out."""
        try:
            yield from read_buckets(self._file, self._header)
        except SnapshotFormatError as exc:
            raise SnapshotError(f"{self._label} {exc}") from exc
