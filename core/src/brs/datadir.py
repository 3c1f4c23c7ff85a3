"""Data-directory helpers: emptiness, staging, and the swap that never loses data.

A restore is built in a staging directory on the same file system as the data directory and
swapped in by renames only after it was verified. The previous content is moved aside (never
deleted first), so an interrupted or failed restore leaves either the old or the new data.

Where the data directory is a mount point (a PVC mounted at ``/data``), it cannot be renamed;
staging and the set-aside copy then live inside it under names starting with ``.brs-``, which
:func:`is_empty` and backups ignore.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from brs.errors import BrsError

__all__ = ["RESERVED_PREFIX", "discard_staging", "is_empty", "is_reserved", "prepare_staging", "set_aside", "swap_in"]

RESERVED_PREFIX = ".brs-"
_IGNORED = {"lost+found"}


def is_reserved(name: str) -> bool:
    """True for top-level names brs itself creates inside a data directory."""
    return name.startswith(RESERVED_PREFIX)


def is_empty(data_dir: Path) -> bool:
    """True when ``data_dir`` is missing or holds nothing but ``lost+found`` and brs's own entries."""
    try:
        with os.scandir(data_dir) as entries:
            return all(entry.name in _IGNORED or is_reserved(entry.name) for entry in entries)
    except FileNotFoundError:
        return True
    except NotADirectoryError:
        return False


def _stamp() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def _in_place(data_dir: Path) -> bool:
    """True when staging must live inside the data directory (it is a mount point)."""
    return data_dir.is_dir() and os.path.ismount(data_dir)


def prepare_staging(data_dir: Path, label: str) -> Path:
    """Create an empty staging directory for a restore into ``data_dir``.

    It gets the owner and mode of the existing data directory (0700 for a new one), since engines
    such as PostgreSQL insist on them.
    """
    if _in_place(data_dir):
        staging = data_dir / f"{RESERVED_PREFIX}staging-{label}"
    else:
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = data_dir.parent / f".{data_dir.name}{RESERVED_PREFIX}staging-{label}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(mode=0o700)
    if data_dir.is_dir():
        info = data_dir.stat()
        os.chmod(staging, info.st_mode & 0o7777)
        if os.geteuid() == 0:
            os.chown(staging, info.st_uid, info.st_gid)
    return staging


def discard_staging(staging: Path) -> None:
    """Remove a staging directory after a failed restore (it never held live data)."""
    shutil.rmtree(staging, ignore_errors=True)


def _unused(path: Path) -> Path:
    """``path``, or ``path-2``, ``path-3``... when two set-asides happen within one second."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def set_aside(data_dir: Path, reason: str) -> Path | None:
    """Move the content of ``data_dir`` aside (e.g. a corrupt one); returns where it went."""
    if is_empty(data_dir):
        return None
    if _in_place(data_dir):
        aside = _unused(data_dir / f"{RESERVED_PREFIX}{reason}-{_stamp()}")
        aside.mkdir()
        for entry in os.scandir(data_dir):
            if entry.name in _IGNORED or is_reserved(entry.name):
                continue
            os.rename(entry.path, aside / entry.name)
        return aside
    aside = _unused(data_dir.parent / f".{data_dir.name}{RESERVED_PREFIX}{reason}-{_stamp()}")
    os.rename(data_dir, aside)
    return aside


def swap_in(staging: Path, data_dir: Path, keep_previous: bool = True) -> Path | None:
    """Put the verified ``staging`` content in place of ``data_dir``'s.

    :returns: where the previous content was kept, or ``None`` if there was none or it was
        discarded on request (only after the new content is in place).
    """
    try:
        previous = set_aside(data_dir, "previous")
        if _in_place(data_dir):
            for entry in os.scandir(staging):
                os.rename(entry.path, data_dir / entry.name)
            info = staging.stat()
            os.chmod(data_dir, info.st_mode & 0o7777)
            if os.geteuid() == 0:
                os.chown(data_dir, info.st_uid, info.st_gid)
            staging.rmdir()
        else:
            if data_dir.exists():
                # Still here means it was empty (set_aside moves anything else): a bare directory
                # can go; one holding lost+found or brs folders is renamed, not deleted.
                if any(data_dir.iterdir()):
                    os.rename(data_dir, data_dir.parent / f".{data_dir.name}{RESERVED_PREFIX}empty-{_stamp()}")
                else:
                    data_dir.rmdir()
            os.rename(staging, data_dir)
    except OSError as error:
        raise BrsError(f"cannot move the restored data into {data_dir}: {error}") from error
    if previous is not None and not keep_previous:
        shutil.rmtree(previous, ignore_errors=True)
        return None
    return previous
