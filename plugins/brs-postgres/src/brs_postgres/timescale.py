"""What a major upgrade must know about TimescaleDB, read from the stopped cluster and the programs.

TimescaleDB has to be preloaded wherever a cluster that uses it runs, the old cluster included:
with ``shared_preload_libraries=''`` a dump of compressed chunks fails and ``count(*)`` over a
hypertable returns 0. And ``pg_upgrade`` needs the very TimescaleDB version of the old programs
installed for the new ones. Both are checked here before anything is changed.
"""

from __future__ import annotations

import re
from pathlib import Path

from brs.errors import DatabaseError

from brs_postgres.tools import Owner, Toolset

__all__ = ["EXTENSION", "check_upgrade", "installed_version", "preload_libraries"]

EXTENSION = "timescaledb"


def preload_libraries(tools: Toolset, data_dir: Path, owner: Owner) -> list[str]:
    """``shared_preload_libraries`` of the stopped cluster in ``data_dir``, as its config files set it.

    ``postgres -C`` reads ``postgresql.conf``, ``postgresql.auto.conf`` and their includes the way
    the server would, without starting it (``pg_controldata`` does not know the setting).
    """
    output = tools.run(
        "postgres",
        ["-D", str(data_dir), "-C", "shared_preload_libraries"],
        owner=owner,
        what=f"reading shared_preload_libraries of {data_dir}",
    )
    return [name.strip().strip('"') for name in output.strip().split(",") if name.strip()]


def installed_version(tools: Toolset) -> str | None:
    """The TimescaleDB version installed for ``tools`` (its control file's default), None without it."""
    try:
        pkglibdir, sharedir = Path(tools.pg_config("--pkglibdir")), Path(tools.pg_config("--sharedir"))
    except DatabaseError:
        return None
    control = sharedir / "extension" / f"{EXTENSION}.control"
    if not (pkglibdir / f"{EXTENSION}.so").exists() or not control.is_file():
        return None
    match = re.search(r"^\s*default_version\s*=\s*'([^']+)'", control.read_text(errors="replace"), re.MULTILINE)
    if match is None:
        return None
    version = match.group(1)
    return version if (pkglibdir / f"{EXTENSION}-{version}.so").exists() else None


def check_upgrade(old: Toolset, new: Toolset, old_major: int, new_major: int) -> str:
    """The TimescaleDB version both program sets have; a one-line error when they differ.

    :returns: the version (the same for old and new).
    """
    old_version = installed_version(old)
    if old_version is None:
        raise DatabaseError(
            f"the cluster preloads TimescaleDB, but the saved PostgreSQL {old_major} programs ({old.where()}) have no "
            f"TimescaleDB; nothing was changed"
        )
    new_version = installed_version(new)
    if new_version != old_version:
        found = f"TimescaleDB {new_version}" if new_version else "no TimescaleDB"
        raise DatabaseError(
            f"TimescaleDB version mismatch: the PostgreSQL {old_major} programs have {old_version}, the PostgreSQL "
            f"{new_major} programs ({new.where()}) have {found}; install TimescaleDB {old_version} for PostgreSQL "
            f"{new_major} (pg_upgrade needs the same version in both); nothing was changed"
        )
    return old_version
