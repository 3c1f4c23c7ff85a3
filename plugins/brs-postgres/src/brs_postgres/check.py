"""Is a data directory empty, healthy or corrupt? Decided without starting or changing it."""

from __future__ import annotations

import re
from pathlib import Path

from brs.datadir import is_empty
from brs.errors import DatabaseError
from brs.interfaces import DataDirState, DataDirStatus

from brs_postgres.tools import Toolset

__all__ = ["check_data_dir"]

#: Present in every cluster of every supported version.
_REQUIRED = ("PG_VERSION", "global/pg_control", "base", "global", "pg_wal")


def check_data_dir(data_dir: Path, tools: Toolset) -> DataDirState:
    """Classify ``data_dir``; the reason is one line that names the path."""
    if is_empty(data_dir):
        return DataDirState(DataDirStatus.EMPTY, f"{data_dir} is empty")
    if not data_dir.is_dir():
        return DataDirState(DataDirStatus.CORRUPT, f"{data_dir} is not a directory")
    for name in _REQUIRED:
        if not (data_dir / name).exists():
            return DataDirState(DataDirStatus.CORRUPT, f"{data_dir / name} is missing")
    text = (data_dir / "PG_VERSION").read_text(errors="replace").strip()
    if not re.fullmatch(r"\d+(\.\d+)?", text):
        return DataDirState(DataDirStatus.CORRUPT, f"{data_dir / 'PG_VERSION'} holds {text[:40]!r}, not a version")
    if (data_dir / "global" / "pg_control").stat().st_size < 512:
        return DataDirState(DataDirStatus.CORRUPT, f"{data_dir / 'global/pg_control'} is truncated")
    return _controldata(data_dir, int(text.split(".")[0]), tools)


def _controldata(data_dir: Path, data_major: int, tools: Toolset) -> DataDirState:
    """Ask ``pg_controldata`` (same major only: other majors read the file differently)."""
    try:
        if not tools.has("pg_controldata") or tools.major() != data_major:
            return DataDirState(DataDirStatus.HEALTHY, f"PostgreSQL {data_major} data (pg_controldata not checked)")
    except DatabaseError:
        return DataDirState(DataDirStatus.HEALTHY, f"PostgreSQL {data_major} data (pg_controldata not checked)")
    try:
        output = tools.run("pg_controldata", [str(data_dir)], what=f"pg_controldata {data_dir}")
    except DatabaseError as error:
        return DataDirState(DataDirStatus.CORRUPT, str(error))
    if "does not match value stored in file" in output or "invalid" in output.lower().split("\n", 1)[0]:
        return DataDirState(DataDirStatus.CORRUPT, f"pg_controldata: {data_dir / 'global/pg_control'} fails its CRC check")
    state = re.search(r"^Database cluster state:\s*(.+)$", output, re.MULTILINE)
    described = state.group(1).strip() if state else "unknown state"
    # Any recorded state is startable: after a crash ("in production") PostgreSQL replays its WAL.
    return DataDirState(DataDirStatus.HEALTHY, f"PostgreSQL {data_major} data, cluster state {described}")
