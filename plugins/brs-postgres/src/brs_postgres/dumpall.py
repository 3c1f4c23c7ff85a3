"""Logical backups with ``pg_dumpall`` and their replay into a fresh cluster.

The restore runs ``initdb`` in the staging directory with the backup's bootstrap superuser,
encoding and locale, starts a temporary server there that listens only on a private Unix
socket (with TimescaleDB preloaded, in restoring mode, when the source preloaded it), replays
the SQL with ``psql -v ON_ERROR_STOP=1`` and stops the server cleanly. The one
statement that always fails on a fresh cluster, ``CREATE ROLE <bootstrap superuser>``, is left
out of the stream instead of tolerating errors, so any other error stops the restore.
"""

from __future__ import annotations

import io
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from brs.archive import ArchiveWriter

from brs_postgres.options import PostgresOptions
from brs_postgres.facts import ServerFacts
from brs_postgres.server import TempServer
from brs_postgres.streaming import add_tool_output, feed_tool, read_chunks
from brs_postgres.tools import Owner, Toolset

__all__ = ["STREAM", "dump", "initdb_args", "restore", "skip_bootstrap_role"]

log = logging.getLogger("brs.database.postgres")

#: Name of the pg_dumpall SQL stream inside a brs backup.
STREAM = "dumpall.sql"


def dump(archive: ArchiveWriter, settings: PostgresOptions, tools: Toolset) -> None:
    """Stream ``pg_dumpall`` of the server into ``archive``."""
    # Quoted identifiers keep the dump valid in newer majors that reserve more keywords.
    args = ["--no-password", "--quote-all-identifiers"]
    with settings.client() as client:
        add_tool_output(archive, STREAM, tools, "pg_dumpall", args, client, f"pg_dumpall from {settings.server}")


def initdb_args(facts: ServerFacts, new_major: int) -> list[str]:
    """initdb options that recreate the source cluster's superuser, encoding, locale and checksums."""
    args = ["-U", facts.superuser, "-E", facts.encoding, f"--lc-collate={facts.lc_collate}", f"--lc-ctype={facts.lc_ctype}"]
    if facts.data_checksums:
        args.append("--data-checksums")
    elif new_major >= 18:
        args.append("--no-data-checksums")  # 18 turned checksums on by default
    return args


def restore(source: BinaryIO, target: Path, tools: Toolset, owner: Owner, facts: ServerFacts) -> None:
    """Build a cluster in ``target`` from the SQL in ``source``."""
    owner.chown(target)
    os.chmod(target, 0o700)
    new_major = tools.major()
    tools.run(
        "initdb",
        ["-D", str(target), "--auth-local=trust", "--auth-host=scram-sha-256", *initdb_args(facts, new_major)],
        owner=owner,
        what=f"initdb in {target}",
    )
    # A TimescaleDB dump creates the extension and loads its catalog and chunks as plain data:
    # that needs the library preloaded and the extension in restoring mode.
    options = ("shared_preload_libraries=timescaledb", "timescaledb.restoring=on") if facts.preloads_timescaledb else ()
    with TempServer(tools, target, owner, options) as server:
        feed_tool(
            skip_bootstrap_role(read_chunks(source), facts.superuser),
            tools,
            "psql",
            ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", "postgres", "-f", "-"],
            server.client_env(facts.superuser),
            f"replaying the pg_dumpall SQL into {target}",
        )
    _write_config(target, owner, facts, new_major)


def skip_bootstrap_role(chunks: Iterator[bytes], superuser: str) -> Iterator[bytes]:
    """Pass the SQL through, minus ``CREATE ROLE <superuser>;`` in the roles section.

    Only the lines before the first ``\\connect`` (roles and tablespaces) are examined; the rest
    is copied in large pieces.
    """
    pattern = re.compile(rb'^CREATE ROLE ("?)' + re.escape(superuser.replace('"', '""').encode()) + rb"\1;\r?\n?$")
    buffer = io.BytesIO()
    header = True
    pending = b""
    for chunk in chunks:
        if not header:
            yield chunk
            continue
        pending += chunk
        lines = pending.split(b"\n")
        pending = lines.pop()
        for line in lines:
            if header and line.startswith(b"\\connect"):
                header = False
            if header and pattern.match(line + b"\n"):
                continue
            buffer.write(line + b"\n")
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if not header:
            yield pending
            pending = b""
    if pending:
        yield pending if not (header and pattern.match(pending)) else b""


def _write_config(target: Path, owner: Owner, facts: ServerFacts, new_major: int) -> None:
    """Put the source's config files back (a logical dump does not carry them)."""
    for name, content in facts.config.items():
        if name.startswith("postgresql") and facts.major != new_major:
            # Settings of another major may not exist any more; keep them for the operator.
            kept = f"{name}.from-v{facts.major}"
            log.warning("%s of PostgreSQL %s kept as %s; the restored cluster uses initdb's defaults", name, facts.major, kept)
            name = kept
        path = target / name
        path.write_text(content)
        os.chmod(path, 0o600)
        owner.chown(path)
