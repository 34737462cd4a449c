"""Where `snapshot_store` points: a local directory or an object store's bucket.

fsspec takes anything it cannot parse as a local path: `s3:/typo/x` would
silently become the directory `./s3:/typo/x`, and `file:///srv/with%20pct` a
directory literally named `with%20pct`. So a value that looks like a URL (it
starts with `scheme:`) must be a supported one, checked before any request,
and a `file://` URL is read as a URL. Messages never quote the value, which
may carry credentials.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from tap_mx_audience.errors import SettingsError

SETTING = "snapshot_store"
# The object stores' URL schemes, each with the extra that installs its backend.
EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs"} | dict.fromkeys(
    ("az", "abfs", "abfss", "adl"), "azure"
)
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_ACCEPTED = (
    "must be a directory, a file:// URL or an object store URL "
    f"({', '.join(f'{scheme}://' for scheme in EXTRAS)})"
)


def store_location(value: str) -> str:
    """The store as `SnapshotStore` takes it: a local path or an object store URL.

    A plain path is a local directory; a `file://` URL becomes its local path,
    percent-escapes decoded; an object store URL keeps its bucket or container.
    """
    if not _SCHEME.match(value):
        return value
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        raise SettingsError.about(SETTING, _ACCEPTED) from None
    rest = value[len(parts.scheme) + 1 :]
    if not rest.startswith("//") or parts.scheme not in {"file", *EXTRAS}:
        raise SettingsError.about(SETTING, _ACCEPTED)
    if parts.scheme != "file":
        if not parts.netloc:
            raise SettingsError.about(
                SETTING, f"needs a bucket or container after {parts.scheme}://"
            )
        return f"{parts.scheme}:{rest}"
    return _local_path(parts.netloc, parts.path, parts.query or parts.fragment)


def _local_path(host: str, path: str, query_or_fragment: str) -> str:
    """A `file://` URL's path: on this machine, whole, and a path at all."""
    if host.lower() not in {"", "localhost"}:
        raise SettingsError.about(
            SETTING, "is a file:// URL of another host: use file:///path"
        )
    if query_or_fragment:
        raise SettingsError.about(
            SETTING,
            "is a file:// URL with a query string or fragment: "
            "write '?' and '#' in a path as %3F and %23",
        )
    local = unquote(path)
    if not local or "\x00" in local:
        raise SettingsError.about(SETTING, "must be file:///path to a directory")
    return local
