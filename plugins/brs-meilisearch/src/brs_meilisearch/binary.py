"""Finding Meilisearch binaries, reading their versions, and keeping a copy for upgrades."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from pathlib import Path

from brs import processes
from brs.errors import DatabaseError

__all__ = ["Version", "binary_version", "keep_copy", "parse_version", "resolve_binary"]

_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(\S*)$")


class Version(tuple[int, int, int, str]):
    """A Meilisearch version: numeric parts plus any pre-release suffix (``1.21.0-rc.1``)."""

    @property
    def text(self) -> str:
        return f"{self[0]}.{self[1]}.{self[2]}{self[3]}"

    def numeric(self) -> tuple[int, int, int]:
        return (self[0], self[1], self[2])


def parse_version(text: str, what: str) -> Version:
    """Parse ``1.21.0`` (a VERSION file) or ``meilisearch 1.21.0`` (``--version`` output)."""
    words = text.strip().split()
    match = _VERSION.match(words[-1]) if words else None
    if match is None:
        raise DatabaseError(f"cannot read a Meilisearch version from {what}: {text.strip()[:80]!r}")
    return Version((int(match.group(1)), int(match.group(2)), int(match.group(3)), match.group(4)))


def resolve_binary(binary: str | Path, what: str = "Meilisearch binary") -> Path:
    """The executable behind a path or a name on PATH."""
    text = str(binary)
    found = shutil.which(text) if os.sep not in text else (text if os.access(text, os.X_OK) and Path(text).is_file() else None)
    if found is None:
        raise DatabaseError(f"{what} {text!r} not found or not executable (set --meilisearch-binary)")
    return Path(found)


def binary_version(binary: Path) -> Version:
    """Ask a binary for its version (``meilisearch --version``)."""
    try:
        result = processes.run([str(binary), "--version"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise DatabaseError(f"cannot run {binary} --version: {error}") from error
    if result.returncode != 0:
        last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise DatabaseError(f"{binary} --version exited {result.returncode}: {last[0]}")
    return parse_version(result.stdout, f"{binary} --version")


def keep_copy(binary: Path, destination: Path, log: logging.Logger) -> bool:
    """Copy ``binary`` to ``destination`` atomically unless an identical copy is there.

    :returns: True when a new copy was written.
    """
    source = binary.resolve()
    info = source.stat()
    try:
        existing = destination.stat()
        # copy2 keeps the mtime, so size plus mtime identify an unchanged binary cheaply.
        if existing.st_size == info.st_size and int(existing.st_mtime) == int(info.st_mtime):
            return False
    except FileNotFoundError:
        pass
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f".{destination.name}.partial")
    try:
        shutil.copy2(source, partial)
        os.chmod(partial, 0o755)
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)
    log.info("kept a copy of %s at %s for later upgrades", source, destination)
    return True
