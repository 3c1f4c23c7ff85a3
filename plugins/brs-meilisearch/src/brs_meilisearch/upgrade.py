"""Upgrading a data directory to a newer Meilisearch: dump with the old binary, import with the new."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from brs import datadir
from brs.errors import DatabaseError

from brs_meilisearch.binary import Version, binary_version, parse_version, resolve_binary
from brs_meilisearch.importer import import_dump
from brs_meilisearch.layout import VERSION_FILE
from brs_meilisearch.server import TemporaryMeilisearch

__all__ = ["data_version", "upgrade_data_dir"]


def data_version(data_dir: Path) -> Version:
    """The version in the data directory's ``VERSION`` file."""
    path = data_dir / VERSION_FILE
    try:
        return parse_version(path.read_text(errors="replace"), str(path))
    except FileNotFoundError:
        raise DatabaseError(f"{data_dir} holds data but no {VERSION_FILE} file; cannot tell which Meilisearch wrote it") from None
    except OSError as error:
        raise DatabaseError(f"cannot read {path}: {error.strerror or error}") from error


def upgrade_data_dir(
    data_dir: Path,
    *,
    binary: str | Path,
    previous_binary: Path | None,
    timeout: float,
    keep_old: bool,
    log: logging.Logger,
) -> bool:
    """Upgrade ``data_dir`` to ``binary``'s version if it is older; True when it did.

    The old data stays in place, untouched, until the new database is complete; only then are
    the two swapped by renames. Every prerequisite that is missing is an error, never a skip:
    starting the new binary on old data would fail anyway, later and less clearly.
    """
    if datadir.is_empty(data_dir):
        return False  # nothing to upgrade; the binary is not needed
    have = data_version(data_dir)
    current = resolve_binary(binary)
    want = binary_version(current)
    if have == want:
        return False
    if have.numeric() > want.numeric():
        raise DatabaseError(
            f"the data in {data_dir} was written by Meilisearch {have.text}, newer than the installed {want.text}; "
            "Meilisearch cannot downgrade (restore a backup made with this version instead)"
        )
    if previous_binary is None or not (previous_binary.is_file() and os.access(previous_binary, os.X_OK)):
        raise DatabaseError(
            f"the data in {data_dir} is Meilisearch {have.text} and the binary is {want.text}: the upgrade needs the "
            f"previous binary at {previous_binary or '--meilisearch-previous-binary'}, which is missing "
            "(backups keep it there; or restore a backup instead)"
        )
    old = binary_version(previous_binary)
    if old != have:
        raise DatabaseError(
            f"the previous binary {previous_binary} is Meilisearch {old.text}, but the data in {data_dir} is {have.text}"
        )
    log.info("upgrading Meilisearch data in %s from %s to %s", data_dir, have.text, want.text)
    work = datadir.prepare_staging(data_dir, "meilisearch-upgrade-dump")
    staging = datadir.prepare_staging(data_dir, "meilisearch-upgrade")
    try:
        dump = _dump_with(previous_binary, data_dir, work, timeout=timeout, log=log)
        import_dump(current, dump, staging, timeout=timeout, log=log)
        shutil.rmtree(work, ignore_errors=True)  # free the dump's space before the swap
        kept = datadir.swap_in(staging, data_dir, keep_previous=keep_old)
    except BaseException:
        datadir.discard_staging(staging)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if kept is not None:
        log.info("the pre-upgrade data is kept at %s", kept)
    log.info("upgraded Meilisearch data in %s to %s", data_dir, want.text)
    return True


def _dump_with(binary: Path, data_dir: Path, work: Path, *, timeout: float, log: logging.Logger) -> Path:
    """Run the old binary on the old data and have it write a dump below ``work``."""
    with TemporaryMeilisearch(binary, data_dir, work, log=log) as server:
        uid = server.start(timeout).api.create_dump(timeout)
    dump = server.dump_dir / f"{uid}.dump"
    if not dump.is_file():
        raise DatabaseError(f"the previous Meilisearch binary reported dump {uid} but {dump} does not exist")
    return dump
