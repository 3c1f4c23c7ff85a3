"""Awkward data directories are handled when the backup is taken, so that a backup that exits 0
always restores: followed (a symlinked data directory), kept (hard links, paths longer than
PATH_MAX), skipped with a warning (FIFOs, sockets, devices, files that vanish), or refused with
one line and nothing stored (an unreadable file, an empty data-directory setting).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from brs.errors import ConfigError
from brs.testing import run_brs, tree_snapshot
from brs.testing.helpers import brs_executable


def _backup_restores(env: dict[str, str], data: Path) -> subprocess.CompletedProcess[str]:
    """Back up, verify, empty the data directory and restore; returns the backup's result."""
    backup = run_brs("backup", env=env, check=True)
    run_brs("verify", "latest", env=env, check=True)
    for entry in list(data.iterdir()):
        shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    run_brs("restore", "latest", "--discard-previous", env=env, check=True)
    return backup


def _warnings(result: subprocess.CompletedProcess[str], needle: str) -> list[str]:
    return [line for line in result.stderr.splitlines() if needle in line and '"WARNING"' in line.upper()]


def _stored(tmp_path: Path) -> list[str]:
    store = tmp_path / "store"
    return sorted(p.name for p in store.rglob("*") if p.is_file()) if store.exists() else []


def test_a_symlinked_data_directory_is_followed(tmp_path: Path, brs_env: dict[str, str]) -> None:
    real = tmp_path / "volume" / "real-data"
    (real / "sub").mkdir(parents=True)
    (real / "sub" / "rows").write_bytes(b"rows\n")
    (real / "top").write_bytes(b"top\n")
    data = Path(brs_env["BRS_DB_DATA_DIRECTORY"])
    data.symlink_to(real)
    expected = tree_snapshot(real)
    _backup_restores(brs_env, data)
    assert data.is_symlink() and os.readlink(data) == str(real)
    assert tree_snapshot(real) == expected


def test_hard_links_are_restored_as_hard_links(tmp_path: Path, brs_env: dict[str, str]) -> None:
    data = Path(brs_env["BRS_DB_DATA_DIRECTORY"])
    (data / "dir").mkdir(parents=True)
    (data / "first").write_bytes(b"shared content\n")
    os.link(data / "first", data / "dir" / "second")
    os.link(data / "first", data / "third")
    expected = tree_snapshot(data)
    _backup_restores(brs_env, data)
    assert tree_snapshot(data) == expected
    inodes = {(data / name).stat().st_ino for name in ("first", "dir/second", "third")}
    assert len(inodes) == 1 and (data / "first").stat().st_nlink == 3


def test_fifos_sockets_and_devices_are_skipped_with_one_warning_each(tmp_path: Path, brs_env: dict[str, str]) -> None:
    data = Path(brs_env["BRS_DB_DATA_DIRECTORY"])
    data.mkdir()
    (data / "kept").write_bytes(b"kept\n")
    expected = tree_snapshot(data)  # before the FIFO: reading one would block
    os.mkfifo(data / "fifo")
    os.mknod(data / "null", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind(str(data / "socket"))
        backup = _backup_restores(brs_env, data)
    for name in ("fifo", "null", "socket"):
        assert len(_warnings(backup, f"skipped {data / name}")) == 1, backup.stderr
    assert tree_snapshot(data) == expected


def test_a_directory_that_changes_during_the_backup(tmp_path: Path, brs_env: dict[str, str]) -> None:
    """Files created and deleted while backups run: every backup exits 0 and restores."""
    data = Path(brs_env["BRS_DB_DATA_DIRECTORY"])
    (data / "churn").mkdir(parents=True)
    (data / "stable").write_bytes(os.urandom(1 << 16))
    stable = tree_snapshot(data)["stable"]
    stop = threading.Event()

    def churn() -> None:
        n = 0
        while not stop.is_set():
            for i in range(200):
                path = data / "churn" / f"f{(n + i) % 400}"
                if path.exists():
                    path.unlink(missing_ok=True)
                else:
                    path.write_bytes(b"x" * (i % 7))
            n += 1

    worker = threading.Thread(target=churn)
    worker.start()
    try:
        for _ in range(3):
            run_brs("backup", env=brs_env, check=True)
    finally:
        stop.set()
        worker.join()
    shutil.rmtree(data)
    run_brs("restore", "latest", env=brs_env, check=True)
    assert tree_snapshot(data)["stable"] == stable
    assert (data / "churn").is_dir()


def test_an_unreadable_file_refuses_the_backup_and_stores_nothing(tmp_path: Path, brs_env: dict[str, str]) -> None:
    data = Path(brs_env["BRS_DB_DATA_DIRECTORY"])
    data.mkdir()
    (data / "readable").write_bytes(b"fine\n")
    (data / "secret.db").write_bytes(b"cannot be read\n")
    run_brs("backup", env=brs_env, check=True)
    before = _stored(tmp_path)
    # Root reads everything, so the kernel's answer is injected for this one file.
    argv = ["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=openat", "-e", "inject=openat:error=EACCES"]
    result = subprocess.run(
        [*argv, "-P", "secret.db", brs_executable(), "backup"],
        env={**os.environ, **brs_env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("brs: error:")]
    assert len(errors) == 1 and f"cannot back up {data / 'secret.db'}: Permission denied" in errors[0], result.stderr
    # Nothing but the record of the failure is stored, and that record is listed as one.
    (record,) = [name for name in _stored(tmp_path) if name not in before]
    assert record.endswith(".failed.json")
    assert len(run_brs("backups", "list", "--json", env=brs_env, check=True).stdout.split('"version"')) == 2
    (failure,) = json.loads(run_brs("backups", "failures", "--json", env=brs_env, check=True).stdout)
    assert failure["stage"] == "dump" and failure["backup_id"] + ".failed.json" == record
    assert failure["error"] in errors[0] and "Permission denied" in failure["error"]
    human = run_brs("backups", "failures", env=brs_env, check=True).stdout
    assert "STAGE" in human and failure["backup_id"] in human


def _deep(root: Path, parts: list[str]) -> Iterator[int]:
    """Descriptors of each directory on a path too long to name (the caller closes them)."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    yield fd
    for part in parts:
        fd = os.open(part, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        yield fd


def test_a_path_longer_than_path_max_round_trips(tmp_path: Path, brs_env: dict[str, str]) -> None:
    data = Path(brs_env["BRS_DB_DATA_DIRECTORY"])
    data.mkdir()
    parts = ["p" * 250] * 20  # 5000 characters below the data directory
    fd = os.open(data, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts:
            os.mkdir(part, dir_fd=fd)
            child = os.open(part, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
        leaf = os.open("leaf", os.O_WRONLY | os.O_CREAT, 0o640, dir_fd=fd)
        os.write(leaf, b"deep down\n")
        os.close(leaf)
    finally:
        os.close(fd)
    run_brs("backup", env=brs_env, check=True)
    run_brs("verify", "latest", env=brs_env, check=True)
    shutil.rmtree(data)
    run_brs("restore", "latest", env=brs_env, check=True)
    descriptors = list(_deep(data, parts))
    try:
        leaf = os.open("leaf", os.O_RDONLY, dir_fd=descriptors[-1])
        assert os.read(leaf, 100) == b"deep down\n"
        assert stat.S_IMODE(os.fstat(leaf).st_mode) == 0o640
        os.close(leaf)
    finally:
        for descriptor in descriptors:
            os.close(descriptor)


@pytest.mark.parametrize("command", ["backup", "restore"])
def test_an_empty_data_directory_setting_is_refused(tmp_path: Path, brs_env: dict[str, str], command: str) -> None:
    work = tmp_path / "cwd"
    work.mkdir()
    (work / "precious").write_bytes(b"not data\n")
    result = run_brs(command, "--db-data-directory", "", env=brs_env, cwd=work)
    assert result.returncode == ConfigError.exit_code, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("brs: error:")]
    assert len(errors) == 1 and "--db-data-directory is empty" in errors[0], result.stderr
    assert sorted(os.listdir(work)) == ["precious"] and (work / "precious").read_bytes() == b"not data\n"
    assert _stored(tmp_path) == []
