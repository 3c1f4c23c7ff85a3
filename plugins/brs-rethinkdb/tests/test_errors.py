"""Failures without a running server: a closed port, missing prerequisites, broken backups.

These run the real driver tools (``python -m rethinkdb dump``) and the real ``brs`` CLI; the
failures that need a server (wrong password) are in test_integration.py.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from brs.errors import ConfigError, DatabaseError
from brs.interfaces import DataDirStatus
from brs.testing import archive_of, free_port, run_brs
from brs_rethinkdb import RethinkDB
from brs_rethinkdb.testing import driver, write_dump_tarball


def _driver(**options: object) -> RethinkDB:
    return driver(options)


@pytest.mark.integration  # the brs CLI as a process
def test_backup_against_a_closed_port_is_one_line_and_exit_1(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "pw").write_text("secret\n")
    result = run_brs(
        "backup", "--db", "rethinkdb", "--backup-provider", "local", "--local-provider-backup-path", str(tmp_path / "backups"),
        "--rethinkdb-url", f"127.0.0.1:{port}", "--rethinkdb-passwordfile", str(tmp_path / "pw"),
    )  # fmt: skip
    assert result.returncode == DatabaseError.exit_code, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("brs: error:")]
    assert errors == [
        f"brs: error: cannot reach RethinkDB at 127.0.0.1:{port}: "
        f"Could not connect to 127.0.0.1:{port}. Error: [Errno 111] Connection refused"
    ], result.stderr
    assert "Traceback" not in result.stderr
    assert "secret" not in result.stderr
    listed = run_brs(
        "backups", "list", "--json", "--backup-provider", "local", "--local-provider-backup-path", str(tmp_path / "backups")
    )
    assert listed.stdout.strip() in ("", "[]")


def test_probe_and_version_against_a_free_port() -> None:
    driver = _driver(rethinkdb_url=f"127.0.0.1:{free_port()}")
    assert driver.probe() is False
    with pytest.raises(DatabaseError, match=r"cannot reach RethinkDB at 127\.0\.0\.1"):
        driver.version()


def test_dump_leaves_no_scratch_files_on_failure(tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with pytest.raises(DatabaseError):
        _driver(rethinkdb_url=f"127.0.0.1:{free_port()}", rethinkdb_temp_dir=scratch).dump(None)  # type: ignore[arg-type]
    assert os.listdir(scratch) == []


@pytest.fixture
def target(tmp_path: Path) -> Path:
    path = tmp_path / "staging"
    path.mkdir()
    return path


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "pw"
    path.write_text("secret\n")
    return path


def _backup(tmp_path: Path) -> dict[str, bytes]:
    return {"rethinkdb_dump.tar.gz": write_dump_tarball(tmp_path / "d.tar.gz", {"shop.items": [{"id": 1}]}).read_bytes()}


def test_restore_needs_the_password_file(target: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--rethinkdb-passwordfile"):
        _driver().restore(archive_of(_backup(tmp_path)), target)
    assert os.listdir(target) == []


def test_restore_with_a_missing_server_binary(target: Path, password_file: Path, tmp_path: Path) -> None:
    driver = _driver(rethinkdb_passwordfile=password_file, rethinkdb_binary=str(tmp_path / "no-rethinkdb"))
    with pytest.raises(DatabaseError, match="not found or not executable"):
        driver.restore(archive_of(_backup(tmp_path)), target)
    assert os.listdir(target) == []


def test_restore_when_the_server_exits_at_once_cleans_up(target: Path, password_file: Path, tmp_path: Path) -> None:
    # /bin/false stands in for a server binary that fails to start (wrong version, bad flags, ...).
    false = shutil.which("false")
    assert false is not None
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    driver = _driver(
        rethinkdb_passwordfile=password_file, rethinkdb_binary=false, rethinkdb_temp_dir=scratch, rethinkdb_timeout=30.0
    )
    with pytest.raises(DatabaseError, match="temporary RethinkDB server exited with code 1"):
        driver.restore(archive_of(_backup(tmp_path)), target)
    assert os.listdir(target) == []
    assert os.listdir(scratch) == []


def test_restore_of_a_damaged_dump(target: Path, password_file: Path) -> None:
    driver = _driver(rethinkdb_passwordfile=password_file, rethinkdb_binary=shutil.which("true"))
    with pytest.raises(DatabaseError, match="not a readable rethinkdb dump"):
        driver.restore(archive_of({"rethinkdb_dump.tar.gz": b"garbage"}), target)
    assert os.listdir(target) == []


def test_restore_of_a_foreign_backup(target: Path, password_file: Path) -> None:
    driver = _driver(rethinkdb_passwordfile=password_file, rethinkdb_binary=shutil.which("true"))
    with pytest.raises(DatabaseError, match=r"unexpected member 'meilisearch\.dump'"):
        driver.restore(archive_of({"meilisearch.dump": b"x"}), target)
    with pytest.raises(DatabaseError, match=r"holds no rethinkdb_dump\.tar\.gz"):
        driver.restore(archive_of({}), target)
    assert os.listdir(target) == []


def test_check(tmp_path: Path) -> None:
    driver = _driver()
    data = tmp_path / "data"
    assert driver.check(data).status is DataDirStatus.EMPTY
    (data / "lost+found").mkdir(parents=True)
    assert driver.check(data).status is DataDirStatus.EMPTY
    (data / "log_file").write_text("")
    state = driver.check(data)
    assert state.status is DataDirStatus.CORRUPT and "metadata" in state.reason
    (data / "metadata").write_bytes(b"\0")
    assert driver.check(data).status is DataDirStatus.HEALTHY


def test_the_real_restore_tool_accepts_the_command_line(tmp_path: Path, password_file: Path) -> None:
    """Options are parsed before the tool connects, so a closed port proves they are accepted."""
    from brs_rethinkdb.tools import restore_command, run_tool

    dump = write_dump_tarball(tmp_path / "d.tar.gz", {"shop.items": [{"id": 1}]})
    (tmp_path / "t").mkdir()
    port = free_port()
    with pytest.raises(DatabaseError, match=rf"Unable to connect to server: Could not connect to 127\.0\.0\.1:{port}"):
        run_tool(restore_command(dump, f"127.0.0.1:{port}", tmp_path / "t", password_file), "rethinkdb restore", 60)


def test_restore_of_a_newer_metadata_format_is_refused(target: Path, password_file: Path, tmp_path: Path) -> None:
    driver = _driver(rethinkdb_passwordfile=password_file, rethinkdb_binary=shutil.which("true"))
    archive = archive_of({"brs-rethinkdb.json": b'{"format": 2, "tables": 1}', **_backup(tmp_path)})
    with pytest.raises(DatabaseError, match=r"^the backup.s brs-rethinkdb.json has format 2, newer than the 1 this "):
        driver.restore(archive, target)
    assert os.listdir(target) == []
