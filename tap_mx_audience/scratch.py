"""One private scratch folder per run, for every temporary file holding member ids.

Changes mode spills lists to local disk (hash buckets, copies of snapshots,
the worked-out changes): the member ids of a bank's customers. They all go
into one folder per process under `tempfile.gettempdir()` (TMPDIR moves it),
named `tap-mx-audience-*`, owner-only (0700), and locked (`flock` on a file
inside) for as long as the process lives. It is removed at every end the
process sees: at exit, and by `ending.leave` before `os._exit`. A process
killed outright (SIGKILL, a power cut) leaves it behind; the next run removes
every such folder whose lock it can take, since its owner is gone.

The folder belongs to the process rather than to an object a run hands down:
`ending.leave` must reach it from a signal handler, with no run at hand.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import shutil
import tempfile
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

PREFIX = "tap-mx-audience-"
_LOCK_FILE = ".lock"
_CREATE_TRIES = 3


@dataclass
class _Scratch:
    """This process's folder and the descriptor holding its lock, once made."""

    path: Path | None = None
    lock: int | None = None


_current = _Scratch()


def scratch_directory() -> Path:
    """This process's scratch folder, made on first use (abandoned ones removed)."""
    if _current.path is None:
        parent = Path(tempfile.gettempdir())
        _remove_abandoned(parent)
        _current.path, _current.lock = _new_locked_folder(parent)
        atexit.register(remove_scratch_directory)
    return _current.path


def remove_scratch_directory() -> None:
    """Remove the folder with everything in it, then release its lock (if made)."""
    if _current.path is not None and _current.lock is not None:
        shutil.rmtree(_current.path, ignore_errors=True)
        os.close(_current.lock)
    _current.path = _current.lock = None


def _remove_abandoned(parent: Path) -> None:
    """Remove the folders of this tap's earlier runs that no live process locks."""
    with os.scandir(parent) as entries:
        for entry in entries:
            if (
                entry.name.startswith(PREFIX)
                and entry.is_dir(follow_symlinks=False)
                and entry.stat(follow_symlinks=False).st_uid == os.getuid()
            ):
                with suppress(OSError):  # locked by its live run, or gone meanwhile
                    _remove_if_unlocked(Path(entry.path))


def _remove_if_unlocked(folder: Path) -> None:
    # O_CREAT: a run killed before it made its lock file left none.
    lock = os.open(folder / _LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        shutil.rmtree(folder, ignore_errors=True)
    finally:
        os.close(lock)


def _new_locked_folder(parent: Path) -> tuple[Path, int]:
    """A new folder and its lock; a run starting meanwhile may take the first tries."""
    for _ in range(_CREATE_TRIES - 1):
        with suppress(OSError):
            return _try_new_locked_folder(parent)
    return _try_new_locked_folder(parent)


def _try_new_locked_folder(parent: Path) -> tuple[Path, int]:
    """OSError if a run removing abandoned folders locked or removed it first."""
    folder = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent))
    path = folder / _LOCK_FILE
    lock = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if path.stat().st_ino != os.fstat(lock).st_ino:
            raise FileNotFoundError(path)  # locked, then removed, by that run
    except OSError:
        os.close(lock)
        raise
    return folder, lock
