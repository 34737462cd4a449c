"""The snapshot store: files in a local directory or an object store.

Changes mode needs what MX served in earlier runs, so the log lives outside
the run: a local directory or any fsspec URL (s3://, gs://, az://), with
`snapshot_store_options` handed to fsspec as storage options (endpoint,
profile, server-side encryption, ...). This module knows files, not the
log: list a folder, fetch a file to local disk, create a file only if no
other has its name, delete, set files aside.

Layout: `{root}/{institution_public_id}/{id_or_slug}/` per audience, each
field percent-encoded into one safe path segment.

Locally, folders the tap creates are 0700 and its files 0600, whatever the
umask: they hold a bank's customer ids. A file is published in one step (a
hard link of a finished file, which fails if the name exists; on S3 a put
with `If-None-Match: *`), so no reader ever sees part of one and of two
runs creating the same name at the same moment exactly one wins.
"""

from __future__ import annotations

import datetime
import errno
import os
import shutil
import string
import uuid
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

import xxhash
from fsspec.implementations.local import LocalFileSystem

from tap_mx_audience.audience import AudienceRef
from tap_mx_audience.history.storecalls import StoreCalls, redacted
from tap_mx_audience.history.storefs import store_filesystem

PART_SUFFIX = ".part"
_SAFE_BYTES = frozenset((string.ascii_letters + string.digits + "_-").encode())
_MAX_SEGMENT = 200
_FOLDER_MODE = 0o700
_FILE_MODE = 0o600


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


class SnapshotStore:
    """Files of the log, in a directory or an object store."""

    def __init__(
        self,
        url: str,
        storage_options: Mapping[str, Any] | None = None,
        *,
        tries: int = 4,
        first_wait_seconds: float = 0.5,
    ) -> None:
        """Resolve the URL and options to a filesystem (SettingsError if they fail)."""
        self.label = redacted(url)
        self._calls = StoreCalls(self.label, tries, first_wait_seconds)
        self._fs, root = store_filesystem(url, storage_options or {})
        self._root = root.rstrip("/")
        self.local = isinstance(self._fs, LocalFileSystem)

    def folder(self, audience: AudienceRef) -> str:
        """The audience's folder in the store."""
        return "/".join(
            (
                self._root,
                segment(audience.institution_public_id),
                segment(audience.id_or_slug),
            )
        )

    def names(self, folder: str) -> list[str]:
        """The names directly in a folder (files and folders); none if absent."""

        def listing() -> list[str]:
            try:
                paths = self._fs.ls(folder, detail=False, refresh=True)
            except FileNotFoundError:
                return []
            return [str(path).rstrip("/").rsplit("/", 1)[-1] for path in paths]

        return self._calls("list", listing)

    def local_path(self, path: str) -> Path | None:
        """The file itself, if the store is a local directory; else None."""
        return Path(path) if self.local else None

    def fetch(self, path: str, local: Path) -> None:
        """Copy one file of the store to local disk; `StoreFileMissingError` if none."""
        self._calls(
            "download", lambda: self._fs.get_file(path, str(local)), missing=path
        )

    def read_range(self, path: str, start: int, length: int) -> bytes:
        """Bytes of one file of the store; `StoreFileMissingError` if there is none."""
        data: bytes = self._calls(
            "read",
            lambda: self._fs.cat_file(path, start=start, end=start + length),
            missing=path,
        )
        return data

    def create(self, path: str, local: Path) -> bool:
        """Publish a local file as `path` unless that name exists; True if it did."""
        try:
            if self.local:
                self._calls("write", lambda: self._create_local(path, local))
            else:
                self._calls(
                    "upload",
                    lambda: self._fs.put_file(str(local), path, mode="create"),
                )
        except FileExistsError:
            return False
        return True

    def delete(self, path: str) -> None:
        """Remove one file; one already gone is what was wanted."""

        def remove() -> None:
            with suppress(FileNotFoundError):
                self._fs.rm_file(path)

        self._calls("delete", remove)

    def set_aside(self, folder: str, names: list[str]) -> str:
        """Move files of a folder into a new subfolder of it; the subfolder's path."""
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
        aside = f"{folder}/set-aside-{stamp}-{uuid.uuid4().hex[:8]}"
        if self.local:
            self._calls("write", lambda: _private_folder(Path(aside)))
        for name in names:
            self._move(f"{folder}/{name}", f"{aside}/{name}")
        return aside

    def _move(self, source: str, target: str) -> None:
        """Move one file; one already gone (another run set it aside) is fine."""

        def move() -> None:
            with suppress(FileNotFoundError):
                self._fs.mv(source, target)

        self._calls("move", move)

    def _create_local(self, path: str, local: Path) -> None:
        """Publish by hard link: atomic, and refused if the name exists.

        The finished file is linked where it is when the scratch folder is on
        the store's filesystem (no copy), else copied next to its name first.
        """
        target = Path(path)
        _private_folder(target.parent)
        local.chmod(_FILE_MODE)
        with local.open("rb") as file:
            os.fsync(file.fileno())
        try:
            os.link(local, target)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
        else:
            return
        part = target.with_name(f".{target.name}.{uuid.uuid4().hex}{PART_SUFFIX}")
        try:
            shutil.copyfile(local, part)
            part.chmod(_FILE_MODE)
            with part.open("rb") as file:
                os.fsync(file.fileno())
            os.link(part, target)
        finally:
            part.unlink(missing_ok=True)


def _private_folder(folder: Path) -> None:
    """Create a folder and its missing parents owner-only; existing ones keep theirs."""
    missing: list[Path] = []
    current = folder
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    if current.exists() and not current.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "a file stands where a folder must be")
    for created in reversed(missing):
        with suppress(FileExistsError):
            created.mkdir(mode=_FOLDER_MODE)
            created.chmod(_FOLDER_MODE)
