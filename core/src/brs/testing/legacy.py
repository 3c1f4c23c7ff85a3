"""Backups in the format of backup-restore-sidecar, built with the standard tools, for tests.

Built from the format description alone (``tar``, ``gzip``, ``lz4`` and ``openssl`` command-line
programs, never brs's reader), so tests of the reader check it against independent bytes:
members ``files/<path>`` without an entry for ``files/`` itself, USTAR headers, gzip or lz4
frames by suffix, and AES-256-CTR with the raw 32-character key and the IV appended.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path

__all__ = ["SUFFIXES", "make_old_backup", "old_localfs_dump", "set_mtime"]

#: ``--compression-method`` of the old tool -> object suffix.
SUFFIXES = {"tar": ".tar", "targz": ".tar.gz", "tarlz4": ".tar.lz4"}


def old_localfs_dump(root: Path, generation: int) -> Path:
    """A small dump of the old localfs adapter (a copy of the data directory below ``files/``).

    :returns: the upload directory that holds ``files/``; its content depends on ``generation``.
    """
    files = root / f"upload-{generation}" / "files"
    (files / "sub" / "deeper").mkdir(parents=True)
    (files / "data.txt").write_text(f"generation {generation}\n")
    (files / "sub" / "deeper" / "note.txt").write_text("nested " * generation)
    (files / "sub" / "binary.bin").write_bytes(bytes(range(256)) * (generation + 1))
    return files.parent


def make_old_backup(upload: Path, output: Path, compression: str, key: str | None = None) -> Path:
    """Archive ``upload/files`` as the old tool did and write it to ``output``.

    :param upload: a directory holding ``files/`` (the database adapter's dump).
    :param output: the object to write; its name should end in the suffix the old tool used.
    :param key: the 32-character encryption key, or None for a plain object.
    """
    members = sorted(str(path.relative_to(upload)) for path in (upload / "files").rglob("*"))
    archive = subprocess.run(
        ["tar", "--format=ustar", "--no-recursion", "-C", str(upload), "-cf", "-", *members],
        check=True,
        capture_output=True,
    ).stdout
    if compression == "targz":
        archive = subprocess.run(["gzip", "-c", "-n"], input=archive, check=True, capture_output=True).stdout
    elif compression == "tarlz4":
        # Level 9, 4 MiB blocks, content checksum: the frame the old tool's lz4 writer produced.
        archive = subprocess.run(["lz4", "-9", "-B7", "-c"], input=archive, check=True, capture_output=True).stdout
    elif compression != "tar":
        raise ValueError(compression)
    if key is not None:
        iv = secrets.token_bytes(16)
        command = ["openssl", "enc", "-aes-256-ctr", "-K", key.encode().hex(), "-iv", iv.hex(), "-nosalt"]
        archive = subprocess.run(command, input=archive, check=True, capture_output=True).stdout + iv
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(archive)
    return output


def set_mtime(path: Path, when: float) -> None:
    """Date an old local backup (the old tool's local versions are ordered by mtime)."""
    os.utime(path, (when, when))
