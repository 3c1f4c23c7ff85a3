"""Helpers: dump-tool-shaped tarballs and a closed port (real servers: :mod:`brs_rethinkdb.testing`)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

from brs.processes import free_port


def write_dump_tarball(path: Path, tables: dict[str, list[dict[str, Any]]]) -> Path:
    """A tarball laid out as ``rethinkdb dump`` writes it (``rethinkdb_dump_DATE/DB/TABLE.*``).

    ``tables`` maps ``db.table`` to its documents; an empty mapping gives the empty tarball the
    tool writes for a database without tables.
    """
    top = "rethinkdb_dump_2026-11-24T04:00:00"
    with tarfile.open(path, mode="w:gz") as tar:
        for name, documents in tables.items():
            db, table = name.split(".")
            info = {"db": {"name": db}, "name": table, "primary_key": "id", "indexes": [], "write_hook": None}
            for suffix, data in ((".info", json.dumps(info)), (".json", json.dumps(documents))):
                member = tarfile.TarInfo(f"{top}/{db}/{table}{suffix}")
                payload = data.encode()
                member.size = len(payload)
                tar.addfile(member, io.BytesIO(payload))
    return path


def closed_port() -> int:
    """A loopback port nothing listens on (bound and released)."""
    return free_port()
