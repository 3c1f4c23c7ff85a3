"""Helpers shared by brs's own tests and plugin tests."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["brs_executable", "make_tree", "run_brs", "tree_snapshot"]


def brs_executable() -> str:
    """The ``brs`` script next to the running interpreter (the tested installation)."""
    candidate = Path(sys.executable).with_name("brs")
    return str(candidate) if candidate.exists() else (shutil.which("brs") or "brs")


def run_brs(
    *args: str, env: Mapping[str, str] | None = None, check: bool = False, timeout: float = 600, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """Run the real ``brs`` CLI in a subprocess (exit codes and stderr as a user sees them)."""
    full_env = {**os.environ, **(env or {})}
    result = subprocess.run([brs_executable(), *args], env=full_env, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"brs {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def make_tree(root: Path, big_file_size: int = 3 << 20) -> Path:
    """A directory tree with the awkward cases: nesting, empty files and directories, a large
    file, symlinks (relative and dangling), unicode names, odd modes and old mtimes."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "a" / "b" / "c").mkdir(parents=True)
    (root / "empty-dir").mkdir()
    (root / "a" / "b" / "c" / "deep.txt").write_text("deep\n")
    (root / "empty-file").write_bytes(b"")
    (root / "ünïcødé ✓.txt").write_text("ñ\n")
    (root / "日本語").mkdir()
    (root / "日本語" / "ファイル").write_bytes(b"\x00\x01\x02")
    with open(root / "big.bin", "wb") as out:
        block = os.urandom(1 << 20)
        remaining = big_file_size
        while remaining > 0:
            out.write(block[: min(remaining, len(block))])
            remaining -= len(block)
            block = block[1:] + block[:1]
    (root / "zeros.bin").write_bytes(bytes(5 << 20))
    os.symlink("a/b/c/deep.txt", root / "link-to-deep")
    os.symlink("does-not-exist", root / "dangling")
    os.symlink("a", root / "dir-link")
    odd = root / "odd-mode"
    odd.write_text("odd\n")
    os.chmod(odd, 0o4751 if os.geteuid() == 0 else 0o751)
    os.chmod(root / "a" / "b", 0o711)
    group_writable = root / "group-writable"
    group_writable.write_text("gw\n")
    os.chmod(group_writable, 0o666)
    os.utime(root / "a" / "b" / "c" / "deep.txt", (1_000_000_000, 1_000_000_000))
    os.utime(root / "empty-dir", (1_100_000_000, 1_100_000_000))
    return root


def tree_snapshot(root: Path) -> dict[str, tuple[Any, ...]]:
    """Everything a restore must reproduce: type, content digest or link target, mode, mtime
    (of files and directories, to the second), and owner."""
    import hashlib

    snapshot: dict[str, tuple[Any, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            relative = str(path.relative_to(root))
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                snapshot[relative] = ("link", os.readlink(path), info.st_uid)
            elif stat.S_ISDIR(info.st_mode):
                snapshot[relative] = ("dir", stat.S_IMODE(info.st_mode), int(info.st_mtime), info.st_uid, info.st_gid)
            else:
                with open(path, "rb") as handle:
                    digest = hashlib.file_digest(handle, "sha256").hexdigest()
                snapshot[relative] = ("file", digest, stat.S_IMODE(info.st_mode), int(info.st_mtime), info.st_uid, info.st_gid)
    return snapshot
