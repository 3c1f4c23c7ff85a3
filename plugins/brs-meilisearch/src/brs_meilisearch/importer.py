"""Turning a dump file into a Meilisearch data directory with a temporary server."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from brs.errors import DatabaseError
from brs.staging import clear_directory, match_owner

from brs_meilisearch.layout import VERSION_FILE
from brs_meilisearch.server import TemporaryMeilisearch

__all__ = ["SCRATCH", "import_dump"]

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
        with TemporaryMeilisearch(binary, database, scratch, import_dump=dump, log=log) as server:
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
