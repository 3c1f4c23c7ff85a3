"""Helpers shared by brs's own tests and plugin tests."""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from brs.errors import EXIT_CODES

if TYPE_CHECKING:
    from brs.archive import ArchiveReader

__all__ = [
    "LocalStoreCLI",
    "archive_of",
    "assert_ok",
    "assert_one_line_error",
    "brs_executable",
    "cleared_special_bits",
    "listed_backups",
    "make_tree",
    "one_line_error",
    "run_brs",
    "tree_snapshot",
]


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


#: The documented script that drives a backup cycle through ``--json`` and exit statuses.
BACKUP_CYCLE_SCRIPT = Path(__file__).resolve().parents[4] / "docs" / "examples" / "backup-cycle.sh"


def run_backup_cycle(env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """Run docs/examples/backup-cycle.sh with this environment's ``brs`` first on PATH."""
    path = f"{Path(brs_executable()).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    full_env = {**os.environ, **env, "PATH": path}
    return subprocess.run(["sh", str(BACKUP_CYCLE_SCRIPT)], env=full_env, capture_output=True, text=True, timeout=600)


def archive_of(members: Mapping[str, bytes]) -> ArchiveReader:
    """An in-memory archive holding ``members`` (name -> content), ready to read, as a
    database plugin's restore receives it."""
    from brs.archive import ArchiveReader, ArchiveWriter

    buffer = io.BytesIO()
    writer = ArchiveWriter(buffer)
    for name, data in members.items():
        writer.add_bytes(name, data)
    writer.close()
    buffer.seek(0)
    return ArchiveReader(buffer)


def assert_ok(result: subprocess.CompletedProcess[str]) -> str:
    """Assert that ``brs`` exited 0 and return its stripped stdout (e.g. a backup version)."""
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout.strip()


def expected_failure(returncode: int) -> bool:
    """A documented failure status (:data:`brs.errors.EXIT_CODES`), not success nor a bug's 3."""
    return returncode in EXIT_CODES and returncode not in (0, 3)


def one_line_error(result: subprocess.CompletedProcess[str], exit_code: int | None = None) -> str:
    """Assert that ``brs`` failed as expected (``exit_code``, or any documented failure status but
    3, the status of a bug) with exactly one line on stderr, and return that line."""
    expected = exit_code in (None, result.returncode) and expected_failure(result.returncode)
    assert expected, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def assert_one_line_error(
    result: subprocess.CompletedProcess[str], *needles: str, secrets: tuple[str, ...] = (), exit_code: int | None = None
) -> str:
    """The CLI failed the way a user should see it: a failure status (``exit_code`` if given) and
    one ``brs: error:`` line.

    The line must contain every one of ``needles``; no output may contain any of ``secrets``.
    """
    line = one_line_error(result, exit_code)
    assert line.startswith("brs: error: "), result.stderr
    for needle in needles:
        assert needle in line, line
    for secret in secrets:
        assert secret not in result.stderr and secret not in result.stdout
    return line


def listed_backups(env: Mapping[str, str]) -> list[dict[str, Any]]:
    """``brs backups list --json`` for ``env``, parsed."""
    return list(json.loads(run_brs("backups", "list", "--json", env=env, check=True).stdout))


class LocalStoreCLI:
    """``brs`` with a local backup store below ``root``; every call returns the finished process.

    Plugin tests wrap :meth:`run` in a ``__call__`` with their own ``--db`` handling.
    """

    def __init__(self, root: Path) -> None:
        self.store = root / "store"

    def store_args(self) -> list[str]:
        """The options that select this local backup store."""
        return ["--backup-provider", "local", "--local-provider-backup-path", str(self.store)]

    def run(
        self,
        command: str,
        *args: str,
        db: str,
        data_dir: Path | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 300,
    ) -> subprocess.CompletedProcess[str]:
        """``brs COMMAND [--db DB] [--db-data-directory DATA_DIR] <store options> ARGS``.

        ``--db`` is passed only to ``backup`` and ``restore``, the commands that take it.
        """
        selected = ["--db", db] if command in ("backup", "restore") else []
        where = ["--db-data-directory", str(data_dir)] if data_dir is not None else []
        return run_brs(command, *selected, *where, *self.store_args(), *args, env=env, timeout=timeout)

    def listed(self) -> list[dict[str, Any]]:
        """The store's backups as ``brs backups list --json`` reports them."""
        result = run_brs("backups", "list", "--json", *self.store_args())
        assert result.returncode == 0, result.stderr
        return list(json.loads(result.stdout))


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


def cleared_special_bits(snapshot: dict[str, tuple[Any, ...]]) -> dict[str, tuple[Any, ...]]:
    """A :func:`tree_snapshot` as a restore leaves it by default: without setuid, setgid and
    sticky bits."""
    cleared: dict[str, tuple[Any, ...]] = {}
    for name, entry in snapshot.items():
        if entry[0] == "file":
            entry = (*entry[:2], entry[2] & 0o777, *entry[3:])
        elif entry[0] == "dir":
            entry = (entry[0], entry[1] & 0o777, *entry[2:])
        cleared[name] = entry
    return cleared
