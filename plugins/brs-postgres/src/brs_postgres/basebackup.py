"""Physical backups with ``pg_basebackup`` and their restore, verified with ``pg_verifybackup``.

Design: ``pg_basebackup -D - -Ft -X fetch -c fast`` writes one tar stream to stdout. It holds the
data files, the WAL needed to reach a consistent state (``-X fetch``; ``-X stream`` cannot write
to stdout) and, injected at its end, the ``backup_manifest`` (which is why the stream must stay
uncompressed: brs compresses it afterwards). The stream goes into the backup as it is produced.
A restore unpacks it into the staging directory and runs ``pg_verifybackup`` on the result
before the server ever starts (starting consumes ``backup_label`` and changes files), so every
file is checked against the manifest's checksums and the WAL is parsed.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path
from typing import BinaryIO

from brs.archive import ArchiveWriter
from brs.errors import BrsError, DatabaseError
from brs.extract import TreeExtractor

from brs_postgres.options import PostgresOptions
from brs_postgres.streaming import add_tool_output
from brs_postgres.tools import Owner, Toolset

__all__ = ["STREAM", "dump", "restore"]

#: Name of the pg_basebackup tar stream inside a brs backup.
STREAM = "pgdata.tar"
_MANIFEST = "backup_manifest"


def dump(archive: ArchiveWriter, settings: PostgresOptions, tools: Toolset) -> None:
    """Stream a base backup of the server into ``archive``."""
    args = ["-D", "-", "-Ft", "-X", "fetch", "-c", "fast", "--no-password", "-l", "brs"]
    add_tool_output(archive, STREAM, tools, "pg_basebackup", args, settings.client_env(), f"pg_basebackup from {settings.server}")


def restore(source: BinaryIO, target: Path, tools: Toolset, owner: Owner, backup_major: int | None) -> None:
    """Unpack the base backup into ``target``, hand it to ``owner`` and verify it."""
    _unpack(source, target)
    owner.chown_tree(target)
    os.chmod(target, 0o700)
    if not (target / _MANIFEST).exists():
        raise DatabaseError(f"the base backup has no {_MANIFEST}; it cannot be verified")
    args = [str(target)]
    try:
        same_major = backup_major is not None and backup_major == tools.major()
    except DatabaseError:
        same_major = False
    if not same_major:
        # pg_waldump only reads WAL of its own major version; the file checksums are still checked.
        args.insert(0, "--no-parse-wal")
    tools.run("pg_verifybackup", ["--quiet", *args], what=f"pg_verifybackup of the restored base backup in {target}")
    # The manifest describes the backup, not the running cluster; it has no place in PGDATA.
    (target / _MANIFEST).unlink()


def _unpack(source: BinaryIO, target: Path) -> None:
    # The extractor never leaves the target (absolute names, "..", devices and links that lead
    # outside are refused); owners are set for the whole tree afterwards.
    extractor = TreeExtractor(target)
    try:
        with tarfile.open(fileobj=source, mode="r|") as tar:
            for member in tar:
                content = tar.extractfile(member) if member.isreg() else None
                extractor.add(member.name, member, content)
        extractor.finish()
    except BrsError:
        raise
    except (tarfile.TarError, OSError, EOFError) as error:
        raise DatabaseError(f"cannot unpack the base backup into {target}: {error}") from None
    finally:
        extractor.close()
