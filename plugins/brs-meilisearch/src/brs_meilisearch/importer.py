"""Turning a dump file into a Meilisearch data directory with a temporary server."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from brs.errors import DatabaseError

from brs_meilisearch.layout import VERSION_FILE
from brs_meilisearch.server import TemporaryServer
import contextlib

__all__ = ["SCRATCH", "clear_directory", "import_dump", "match_owner"]

#: Work folder inside the target while it is being built (a ``.brs-`` name: ignored by brs).
SCRATCH = ".brs-meilisearch-import"


def import_dump(binary: Path, dump: Path, target: Path, *, timeout: float, log: logging.Logger) -> None:
    """Build a complete database at ``target`` (empty but for :data:`SCRATCH`) from ``dump``.

    Meilisearch imports only into an empty ``--db-path`` and unpacks the dump into its temporary
    directory first, so both live in a scratch folder inside ``target`` (same file system, no
    writes elsewhere); the finished database is then moved up into ``target``. On any failure
    ``target`` is left empty.
    """
    scratch = target / SCRATCH
    database = scratch / "db"
    try:
        scratch.mkdir(exist_ok=True)
        with TemporaryServer(binary, database, scratch, import_dump=dump, log=log) as server:
            server.start(timeout)
            server.wait_idle(timeout)
            if not server.stop():
                raise DatabaseError("the temporary Meilisearch server had to be killed after the dump import")
        if not (database / VERSION_FILE).is_file():
            raise DatabaseError(f"the dump import left no {VERSION_FILE} file in the new database")
        for entry in os.scandir(database):
            os.rename(entry.path, target / entry.name)
        match_owner(target)
    except BaseException:
        clear_directory(target)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    log.info("imported Meilisearch dump %s into %s", dump.name, target)


def match_owner(target: Path) -> None:
    """Give everything below ``target`` the owner of ``target`` itself.

    The temporary server runs as brs's user (often root in a sidecar), but the database
    container may run as another one; core created ``target`` with the data directory's owner.
    """
    if os.geteuid() != 0:
        return
    info = target.stat()
    for root, directories, files in os.walk(target):
        for name in directories + files:
            path = os.path.join(root, name)
            stat = os.lstat(path)
            if (stat.st_uid, stat.st_gid) != (info.st_uid, info.st_gid):
                os.lchown(path, info.st_uid, info.st_gid)


def clear_directory(path: Path) -> None:
    """Remove everything inside ``path`` (kept itself: it belongs to the caller)."""
    try:
        entries = list(os.scandir(path))
    except FileNotFoundError:
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
