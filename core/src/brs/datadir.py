"""Data-directory helpers: emptiness, staging, and the swap that never loses data.

A restore is built in a staging directory on the same file system as the data directory and
swapped in by renames only after it was verified. The previous content is moved aside (never
deleted first), so an interrupted or failed restore leaves either the old or the new data.

Where the data directory is a mount point (a PVC mounted at ``/data``), it cannot be renamed;
staging and the set-aside copy then live inside it under names starting with ``.brs-``, which
:func:`is_empty` and backups ignore. The swap then moves entry by entry, which a kill can
interrupt: it is journalled. A journal, written and fsynced before the first move, lists what
moves where; :func:`recover` (run under the data-directory lock before every restore, backup
and start-up check) finishes an interrupted swap. Rolling forward is always possible, because
the journal is only written once the staging copy is complete and verified.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from brs import killpoints
from brs.errors import LocalIOError

__all__ = [
    "RESERVED_PREFIX",
    "discard_staging",
    "is_empty",
    "is_mount_point",
    "is_reserved",
    "prepare_staging",
    "recover",
    "remove_leftovers",
    "set_aside",
    "swap_in",
]

log = logging.getLogger("brs.datadir")
RESERVED_PREFIX = ".brs-"
_IGNORED = {"lost+found"}
_STAGING = f"{RESERVED_PREFIX}staging-"


def _rmtree(path: Path, ignore_errors: bool = False) -> None:
    import shutil  # listings import this module and never remove a tree

    shutil.rmtree(path, ignore_errors=ignore_errors)


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


def is_mount_point(data_dir: Path) -> bool:
    """True when ``data_dir`` cannot be renamed (a volume root): brs's own entries then live inside it."""
    return data_dir.is_dir() and os.path.ismount(data_dir)


def _beside(data_dir: Path, name: str) -> Path:
    """``name`` (a reserved name) inside ``data_dir`` when it is a mount point, else next to it."""
    if is_mount_point(data_dir):
        return data_dir / f"{RESERVED_PREFIX}{name}"
    return data_dir.parent / f".{data_dir.name}{RESERVED_PREFIX}{name}"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _flush_to_disk(staging: Path, staging_fd: int | None) -> None:
    """Write the restored content to disk before the swap makes it the data directory.

    The extractor writes into the page cache; without this, a power loss soon after a swap
    (whose renames are journalled and fsynced) could leave the new data directory with files
    that are empty or short, and the previous content already deleted. Through ``staging_fd``
    when the caller has one: syncfs reports the write-back errors since its descriptor was opened.
    """
    if staging_fd is not None:
        syncfs(staging_fd)
        return
    with opened(staging) as fd:
        syncfs(fd)


@contextlib.contextmanager
def opened(directory: Path) -> Iterator[int]:
    """A descriptor of ``directory``, closed on leaving."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield fd
    finally:
        os.close(fd)


def syncfs(fd: int) -> None:
    """Write back the one file system that holds ``fd`` (``os.sync`` would flush every file
    system of the node). Python has no binding for ``syncfs``, hence ctypes, with ``os.sync``
    where the C library lacks it."""
    import ctypes

    call = getattr(ctypes.CDLL(None, use_errno=True), "syncfs", None)
    if call is None:
        os.sync()
    elif call(fd) != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))


def prepare_staging(data_dir: Path, label: str) -> Path:
    """Create an empty staging directory for a restore into ``data_dir``.

    It gets the owner and mode of the existing data directory (0700 for a new one), since engines
    such as PostgreSQL insist on them.
    """
    if not is_mount_point(data_dir):
        data_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = _beside(data_dir, f"staging-{label}")
    if staging.exists():
        _rmtree(staging)
    staging.mkdir(mode=0o700)
    if data_dir.is_dir():
        info = data_dir.stat()
        os.chmod(staging, info.st_mode & 0o7777)
        if os.geteuid() == 0:
            os.chown(staging, info.st_uid, info.st_gid)
    return staging


def discard_staging(staging: Path) -> None:
    """Remove a staging directory after a failed restore (it never held live data)."""
    _rmtree(staging, ignore_errors=True)


def _unused(path: Path) -> Path:
    """``path``, or ``path-2``, ``path-3``... when two set-asides happen within one second."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def _data_entries(data_dir: Path) -> list[str]:
    return sorted(e.name for e in os.scandir(data_dir) if e.name not in _IGNORED and not is_reserved(e.name))


def set_aside(data_dir: Path, reason: str) -> Path | None:
    """Move the content of ``data_dir`` aside (e.g. a corrupt one); returns where it went."""
    if is_empty(data_dir):
        return None
    aside = _unused(_beside(data_dir, f"{reason}-{_stamp()}"))
    if is_mount_point(data_dir):
        aside.mkdir()
        for name in _data_entries(data_dir):
            os.rename(data_dir / name, aside / name)
        return aside
    os.rename(data_dir, aside)
    return aside


# -- the journalled swap -----------------------------------------------------------------------
def _journal_path(data_dir: Path) -> Path:
    return _beside(data_dir, "swap.json")


def _write_journal(path: Path, journal: dict[str, Any]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w") as out:
        json.dump(journal, out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
    _fsync_dir(path.parent)


def _finish(journal: dict[str, Any], data_dir: Path) -> None:
    """Carry out (or complete) the swap ``journal`` describes; every step may already be done."""
    staging = Path(journal["staging"])
    aside = Path(journal["aside"]) if journal["aside"] else None
    if journal["in_place"]:
        if aside is not None:
            aside.mkdir(exist_ok=True)
            for index, name in enumerate(journal["old"]):
                # Old entries all leave before the first new one arrives, so an entry still
                # here whose name is not in the set-aside copy yet is an old one.
                if os.path.lexists(data_dir / name) and not os.path.lexists(aside / name):
                    os.rename(data_dir / name, aside / name)
                if index == 0:
                    killpoints.reached("swap-aside")
            _fsync_dir(aside)
        for index, name in enumerate(journal["new"]):
            if os.path.lexists(staging / name):
                os.rename(staging / name, data_dir / name)
            if index == 0:
                killpoints.reached("swap-in")
        os.chmod(data_dir, journal["mode"])
        if os.geteuid() == 0:
            os.chown(data_dir, journal["uid"], journal["gid"])
        if staging.exists():
            staging.rmdir()
    else:
        if staging.exists():
            if data_dir.exists() and aside is not None:
                os.rename(data_dir, aside)
                killpoints.reached("swap-rename")
            os.rename(staging, data_dir)
    _fsync_dir(data_dir)
    _fsync_dir(data_dir.parent)


def swap_in(staging: Path, data_dir: Path, keep_previous: bool = True, *, staging_fd: int | None = None) -> Path | None:
    """Put the verified ``staging`` content in place of ``data_dir``'s.

    :param staging_fd: a descriptor of ``staging`` opened before its content was written, for
        the sync that comes first (one is opened here otherwise).
    :returns: where the previous content was kept, or ``None`` if there was none or it was
        discarded on request (only after the new content is in place).
    """
    try:
        _flush_to_disk(staging, staging_fd)
        in_place = is_mount_point(data_dir)
        aside: Path | None = None
        old: list[str] = []
        if in_place:
            old = _data_entries(data_dir)
            if old:
                aside = _unused(_beside(data_dir, f"previous-{_stamp()}"))
        elif data_dir.exists():
            if not is_empty(data_dir):
                aside = _unused(_beside(data_dir, f"previous-{_stamp()}"))
            elif any(data_dir.iterdir()):
                # Empty but holding lost+found or brs folders: renamed, not deleted.
                aside = _unused(_beside(data_dir, f"empty-{_stamp()}"))
            else:
                data_dir.rmdir()
        info = staging.stat()
        journal = {
            "in_place": in_place,
            "staging": str(staging),
            "aside": None if aside is None else str(aside),
            "old": old,
            "new": sorted(os.listdir(staging)),
            "mode": info.st_mode & 0o7777,
            "uid": info.st_uid,
            "gid": info.st_gid,
        }
        path = _journal_path(data_dir)
        _write_journal(path, journal)
        _finish(journal, data_dir)
        path.unlink()
    except OSError as error:
        raise LocalIOError(f"cannot move the restored data into {data_dir}: {error.strerror or error}") from error
    previous = aside if aside is not None and f"{RESERVED_PREFIX}previous-" in aside.name else None
    if previous is not None and not keep_previous:
        _rmtree(previous, ignore_errors=True)
        return None
    return previous


def recover(data_dir: Path) -> bool:
    """Finish a swap that a killed process left unfinished; True when there was one.

    Run it holding the data-directory lock, before anything looks at the data directory.
    """
    path = _journal_path(data_dir)
    try:
        journal = json.loads(path.read_text())
    except FileNotFoundError:
        return False
    except (OSError, ValueError) as error:
        raise LocalIOError(f"cannot read the swap journal {path}: {error}") from error
    log.warning(
        "finishing the restore of %s that was interrupted while it swapped the data in (journal %s)",
        data_dir,
        path,
        extra={"journal": str(path)},
    )
    try:
        _finish(journal, data_dir)
        path.unlink()
    except OSError as error:
        raise LocalIOError(f"cannot finish the interrupted swap into {data_dir}: {error.strerror or error}") from error
    return True


def remove_leftovers(data_dir: Path) -> list[Path]:
    """Remove staging copies of killed restores (stopping any temporary server still in them).

    Never a set-aside previous or corrupt copy: only ``staging`` directories, which never held
    live data. Run it holding the data-directory lock, after :func:`recover`.
    """
    if is_mount_point(data_dir):
        parent, prefix = data_dir, _STAGING
    else:
        parent, prefix = data_dir.parent, f".{data_dir.name}{_STAGING}"
    removed = []
    try:
        candidates = [Path(e.path) for e in os.scandir(parent) if e.name.startswith(prefix) and e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return []
    for staging in candidates:
        from brs.processes import stop_processes_under  # a rare path; spares every listing the import

        stop_processes_under(staging)
        log.warning("removing %s, left behind by an interrupted restore", staging, extra={"staging": str(staging)})
        _rmtree(staging, ignore_errors=True)
        removed.append(staging)
    return removed
