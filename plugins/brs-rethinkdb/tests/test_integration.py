"""Round trips against a real RethinkDB 2.4.4 server on loopback (scripts/install-test-servers.sh).

The admin password has characters outside latin-1 everywhere here, so every test also proves
that the driver's latin-1 handshake is worked around. A missing server fails these tests.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from brs.interfaces import Database
from brs.testing import DatabaseContract, free_port, run_brs
from brs.testing.legacy import make_old_backup
from brs_rethinkdb.testing import LARGE_ROWS, PASSWORD, RealServer, content, driver, load_bulk, load_sample, server_binary
from brs_rethinkdb.tools import dump_command, run_tool, write_password_file

pytestmark = pytest.mark.server("rethinkdb")

Source = tuple[RealServer, dict[str, Any]]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Source]:
    """One server with the sample data for the whole module (tests only read it), and its content."""
    server = RealServer(server_binary(), tmp_path_factory.mktemp("rethink-source") / "data")
    try:
        server.start()
        load_sample(server)
        yield server, content(server)
    finally:
        server.stop()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Callable[..., RealServer]]:
    """Start more real servers; every one is stopped at teardown, even when the test failed."""
    binary = server_binary()
    started: list[RealServer] = []

    def start(directory: Path, *, initial_password: bool = True) -> RealServer:
        server = RealServer(binary, directory)
        started.append(server)
        return server.start(initial_password=initial_password)

    yield start
    for server in started:
        server.stop()


def _cli_args(server: RealServer, tmp_path: Path, data: Path, password: str = PASSWORD) -> list[str]:
    (tmp_path / "pw").write_text(password + "\n", encoding="utf-8")
    return [
        "--db", "rethinkdb", "--db-data-directory", str(data),
        "--backup-provider", "local", "--local-provider-backup-path", str(tmp_path / "backups"),
        "--rethinkdb-url", f"127.0.0.1:{server.port}", "--rethinkdb-passwordfile", str(tmp_path / "pw"),
        "--rethinkdb-binary", server_binary(),
    ]  # fmt: skip


def _listed(tmp_path: Path) -> str:
    store = ["--backup-provider", "local", "--local-provider-backup-path", str(tmp_path / "backups")]
    return run_brs("backups", "list", "--json", *store).stdout.strip()


def test_backup_and_restore_into_an_empty_directory(source: Source, servers: Callable[..., RealServer], tmp_path: Path) -> None:
    """Several databases and tables, secondary indexes and a large table come back exactly."""
    server, expected = source
    assert len(expected["metrics.samples"]["documents"]) == LARGE_ROWS
    restored_dir = tmp_path / "restored"
    args = _cli_args(server, tmp_path, restored_dir)
    backup = run_brs("backup", *args)
    assert backup.returncode == 0, backup.stderr
    restore = run_brs("restore", *args)  # restored_dir does not exist yet: a fresh volume
    assert restore.returncode == 0, restore.stderr
    assert PASSWORD not in backup.stderr + restore.stderr

    # The restored directory carries the admin password: start it without --initial-password.
    restored = servers(restored_dir, initial_password=False)
    assert content(restored) == expected

    # Right after that restart a backup waits for the tables instead of failing on them.
    restored.stop()
    restored = servers(restored_dir, initial_password=False)
    again = run_brs("backup", *_cli_args(restored, tmp_path, restored_dir))
    assert again.returncode == 0, again.stderr


def test_empty_database_round_trip(servers: Callable[..., RealServer], tmp_path: Path) -> None:
    server = servers(tmp_path / "data")
    expected = content(server)
    assert expected == {}, "a new server has RethinkDB's `test` database and no tables"
    args = _cli_args(server, tmp_path, server.directory)
    backup = run_brs("backup", *args)
    assert backup.returncode == 0, backup.stderr
    server.stop()
    shutil.rmtree(server.directory)

    restore = run_brs("restore", *args)
    assert restore.returncode == 0, restore.stderr
    restored = servers(server.directory, initial_password=False)  # the password came back too
    assert content(restored) == expected


def test_wrong_password_is_one_line_and_leaves_no_backup(source: Source, tmp_path: Path) -> None:
    server, _ = source
    result = run_brs("backup", *_cli_args(server, tmp_path, server.directory, password="not the password ✓"))
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("brs: error:")]
    assert len(errors) == 1 and f"RethinkDB at 127.0.0.1:{server.port} rejected the admin password" in errors[0], result.stderr
    assert "Traceback" not in result.stderr and "not the password" not in result.stderr
    assert _listed(tmp_path) in ("", "[]")


def test_restore_sets_the_admin_password_from_the_password_file(
    source: Source, servers: Callable[..., RealServer], tmp_path: Path
) -> None:
    """The restored server has the password of the restore's file (not the backed-up one), data intact."""
    server, expected = source
    args = _cli_args(server, tmp_path, tmp_path / "restored")
    assert run_brs("backup", *args).returncode == 0
    (tmp_path / "pw").write_text("a néw pässword ✓\n", encoding="utf-8")
    restore = run_brs("restore", *args)
    assert restore.returncode == 0, restore.stderr
    restored = RealServer(server_binary(), tmp_path / "restored", password="a néw pässword ✓")
    try:
        restored.start(initial_password=False)
        assert content(restored) == expected
    finally:
        restored.stop()


@pytest.fixture(scope="module")
def bulky(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealServer]:
    """A server holding 48 MiB of random binary values (brs.testing.BULK), for the whole module."""
    server = RealServer(server_binary(), tmp_path_factory.mktemp("rethink-bulky") / "data")
    try:
        load_bulk(server.start())
        yield server
    finally:
        server.stop()


def _driver(server: RealServer, tmp_path: Path, **values: object) -> Database[Any]:
    (tmp_path / "pw").write_text(PASSWORD + "\n", encoding="utf-8")
    options = {
        "rethinkdb_url": f"127.0.0.1:{server.port}",
        "rethinkdb_passwordfile": str(tmp_path / "pw"),
        "rethinkdb_binary": server_binary(),
        **values,
    }
    return driver(options, server.directory)


class TestRethinkDBContract(DatabaseContract):
    @pytest.fixture
    def database(self, source: Source, tmp_path: Path) -> Database[Any]:
        return _driver(source[0], tmp_path)

    @pytest.fixture
    def unreachable_database(self, tmp_path: Path) -> Database[Any]:
        (tmp_path / "pw").write_text(PASSWORD + "\n", encoding="utf-8")
        return driver({"rethinkdb_url": f"127.0.0.1:{free_port()}", "rethinkdb_passwordfile": str(tmp_path / "pw")})

    @pytest.fixture
    def bulky_database(self, bulky: RealServer, tmp_path: Path) -> Database[Any]:
        return _driver(bulky, tmp_path)

    @pytest.fixture
    def assert_restored(self, source: Source, servers: Callable[..., RealServer]) -> Callable[[Path], None]:
        _, expected = source

        def check(target: Path) -> None:
            restored = servers(target, initial_password=False)
            assert content(restored) == expected

        return check

    def test_probe_and_version_of_the_real_server(self, database: Database[Any]) -> None:
        assert database.probe() is True
        assert database.version() == "2.4.4"


def test_an_old_backup_of_backup_restore_sidecar_restores(
    source: Source, servers: Callable[..., RealServer], tmp_path: Path
) -> None:
    """The old tool stored the rethinkdb-dump archive as files/rethinkdb; built here with the dump tool, tar and openssl."""
    server, expected = source
    password_file = write_password_file(PASSWORD, tmp_path / "secret")
    dump = tmp_path / "dump.tar.gz"
    run_tool(dump_command(f"127.0.0.1:{server.port}", dump, tmp_path / "export", password_file), "dump", 300)
    (tmp_path / "upload" / "files").mkdir(parents=True)
    shutil.copyfile(dump, tmp_path / "upload" / "files" / "rethinkdb")
    key = "0123456789abcdef0123456789abcdef"
    make_old_backup(tmp_path / "upload", tmp_path / "backups" / "0.tar.aes", "tar", key)

    restored_dir = tmp_path / "restored"
    restore = run_brs("restore", *_cli_args(server, tmp_path, restored_dir), "--encryption-key", key)
    assert restore.returncode == 0, restore.stderr
    assert content(servers(restored_dir, initial_password=False)) == expected
