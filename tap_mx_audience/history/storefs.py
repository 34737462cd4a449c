"""The snapshot store's filesystem, from `snapshot_store` and its options, checked.

fsspec builds a URL's filesystem from storage options (`snapshot_store_options`:
SSE-KMS, a profile, an endpoint, a region, keys). A mistaken option would
otherwise show at the first upload, as a store error quoting the library,
whose message may hold the option's value. So the filesystem is built (and
s3fs's client, which it makes on first use, made) before anything is sent;
a failure names the setting, and the option without which the rest would
work, never a value.

The store libraries log at WARNING and above only: at DEBUG, botocore logs
every request's headers, a session token and the access key id included.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import fsspec

from tap_mx_audience.errors import SettingsError
from tap_mx_audience.history.storecalls import SETTING
from tap_mx_audience.storeurl import EXTRAS

OPTIONS = "snapshot_store_options"
STORE_LOGGERS = (
    "aiobotocore",
    "aiohttp",
    "adlfs",
    "azure",
    "boto3",
    "botocore",
    "fsspec",
    "gcsfs",
    "google",
    "s3fs",
    "s3transfer",
)


def store_filesystem(url: str, options: Mapping[str, Any]) -> tuple[Any, str]:
    """The store's filesystem and root; a SettingsError names what is wrong."""
    for name in STORE_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))
    for key, value in options.items():
        # fsspec's `*_kwargs` options are passed on as keyword arguments.
        if key.endswith("_kwargs") and not isinstance(value, Mapping):
            raise SettingsError.about(f"{OPTIONS}.{key}", "must be an object")
    scheme = urlsplit(url).scheme or "file"
    try:
        return _opened(url, options)
    except ImportError as exc:
        raise SettingsError.about(
            SETTING,
            f"uses {scheme}://, which needs an extra package: "
            f"pip install 'tap-mx-audience[{EXTRAS.get(scheme, scheme)}]'",
        ) from exc
    except Exception as exc:
        if options and _opens(url, {}):
            raise _refused(url, options, scheme, exc) from None
        if isinstance(exc, ValueError):
            raise SettingsError.about(
                SETTING, f"is not a directory or a supported URL ({exc})"
            ) from exc
        raise SettingsError.about(
            SETTING,
            f"is refused by the {scheme} filesystem ({type(exc).__name__}): "
            "check what it reads from the environment",
        ) from exc


def _opened(url: str, options: Mapping[str, Any]) -> tuple[Any, str]:
    fs, root = fsspec.core.url_to_fs(url, skip_instance_cache=True, **options)
    if "s3" in fs.protocol:  # s3fs makes its client, and reads most options, on use
        fs.connect()
    return fs, str(root)


def _opens(url: str, options: Mapping[str, Any]) -> bool:
    try:
        _opened(url, options)
    except Exception:  # noqa: BLE001 - whatever the library raises, it refuses
        return False
    return True


def _refused(
    url: str, options: Mapping[str, Any], scheme: str, exc: Exception
) -> SettingsError:
    """Name the option without which the others open the store, if there is one."""
    culprit = next(
        (
            key
            for key in options
            if _opens(url, {k: v for k, v in options.items() if k != key})
        ),
        None,
    )
    return SettingsError.about(
        OPTIONS if culprit is None else f"{OPTIONS}.{culprit}",
        f"is refused by the {scheme} filesystem ({type(exc).__name__}): "
        "a key it does not take, or a value it cannot use",
    )
