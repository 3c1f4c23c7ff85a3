"""Deciding whether a data directory is empty, usable or corrupt."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from brs import processes
from brs.datadir import is_empty
from brs.interfaces import DataDirState, DataDirStatus

__all__ = ["check_data_dir", "checker_candidates"]

_TIMEOUT = 600


def checker_candidates(engine: str, configured: str | None) -> list[str]:
    """``*-check-rdb`` programs to try, the one of the selected engine first.

    An older checker cannot read a newer RDB version (redis-check-rdb 7.0 rejects Valkey 8's
    format 11), so the next candidate is tried before anything is called corrupt.
    """
    if configured:
        return [configured]
    names = [f"{engine}-check-rdb", "redis-check-rdb", "valkey-check-rdb", "keydb-check-rdb"]
    found = [path for name in dict.fromkeys(names) if (path := shutil.which(name))]
    return found


def check_data_dir(data_dir: Path, dbfilename: str, appenddirname: str, checkers: list[str]) -> DataDirState:
    """EMPTY, CORRUPT with a reason, or HEALTHY; reads only."""
    if is_empty(data_dir):
        return DataDirState(DataDirStatus.EMPTY, "no files")
    if not data_dir.is_dir():
        return DataDirState(DataDirStatus.CORRUPT, f"{data_dir} is not a directory")
    rdb = data_dir / dbfilename
    aof_manifests = list((data_dir / appenddirname).glob("*.manifest")) if (data_dir / appenddirname).is_dir() else []
    if not rdb.exists():
        if aof_manifests:
            return DataDirState(DataDirStatus.HEALTHY, "append-only files only")
        return DataDirState(DataDirStatus.CORRUPT, f"neither {dbfilename} nor {appenddirname}/ is in {data_dir}")
    if not rdb.is_file():
        return DataDirState(DataDirStatus.CORRUPT, f"{rdb} is not a file")
    if rdb.stat().st_size == 0:
        return DataDirState(DataDirStatus.CORRUPT, f"{rdb} is empty")
    return _run_checkers(rdb, checkers)


def _run_checkers(rdb: Path, checkers: list[str]) -> DataDirState:
    if not checkers:
        return DataDirState(DataDirStatus.HEALTHY, "no redis-check-rdb on PATH; the RDB was not checked")
    reason = ""
    for checker in checkers:
        try:
            result = processes.run([checker, str(rdb)], capture_output=True, text=True, timeout=_TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            reason = f"{checker} could not run: {error}"
            continue
        if result.returncode == 0:
            return DataDirState(DataDirStatus.HEALTHY)
        reason = _error_line(result.stdout + result.stderr) or f"{checker} exited {result.returncode}"
        if "Can't handle RDB format version" not in reason:
            return DataDirState(DataDirStatus.CORRUPT, f"{rdb.name}: {reason}")
    # No available checker understands this RDB version: that is not evidence of damage.
    return DataDirState(DataDirStatus.HEALTHY, f"not checked: {reason}")


def _error_line(output: str) -> str:
    """The line after ``--- RDB ERROR DETECTED ---`` (e.g. ``Unexpected EOF reading RDB file``)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for index, line in enumerate(lines):
        if "RDB ERROR DETECTED" in line and index + 1 < len(lines):
            return lines[index + 1].split("] ", 1)[-1]
    return lines[-1] if lines else ""
