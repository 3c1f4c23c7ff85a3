"""Round trips against a real RethinkDB server.

No RethinkDB server can be installed on the machines this was written on (not in Debian, PyPI
or npm), so these tests run only when BRS_RETHINKDB_BINARY points to a ``rethinkdb`` binary;
otherwise they are skipped with that reason. They have not been run yet.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rethink_helpers import BINARY_ENV, PASSWORD, RealServer, binary_from_env, content, load_sample

from brs.interfaces import Database, PluginContext
from brs.testing import DatabaseContract, run_brs
from brs_rethinkdb import RethinkDB

BINARY = binary_from_env()
pytestmark = pytest.mark.skipif(
    BINARY is None,
    reason=f"{BINARY_ENV} is not set (no RethinkDB server is installable here); point it to a rethinkdb binary to run these",
)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Callable[..., RealServer]]:
    """Start real servers; every one is stopped at teardown, even when the test failed."""
    assert BINARY is not None
    if not os.access(BINARY, os.X_OK):
        pytest.fail(f"{BINARY_ENV}={BINARY} is not an executable file")
    started: list[RealServer] = []

    def start(directory: Path, *, initial_password: bool = True) -> RealServer:
        server = RealServer(str(BINARY), directory)
        started.append(server)
        return server.start(initial_password=initial_password)

    yield start
    for server in started:
        server.stop()


def _cli_args(server: RealServer, tmp_path: Path) -> list[str]:
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    return [
        "--db", "rethinkdb", "--db-data-directory", str(server.directory),
        "--backup-provider", "local", "--local-provider-backup-path", str(tmp_path / "backups"),
        "--rethinkdb-url", f"127.0.0.1:{server.port}", "--rethinkdb-passwordfile", str(tmp_path / "pw"),
        "--rethinkdb-binary", str(BINARY),
    ]  # fmt: skip


@pytest.mark.parametrize("with_data", [True, False], ids=["sample-data", "empty-database"])
def test_cli_backup_wipe_restore(servers: Callable[..., RealServer], tmp_path: Path, with_data: bool) -> None:
    server = servers(tmp_path / "data")
    if with_data:
        load_sample(server)
    expected = content(server)
    args = _cli_args(server, tmp_path)
    backup = run_brs("backup", *args)
    assert backup.returncode == 0, backup.stderr
    server.stop()
    shutil.rmtree(server.directory)

    restore = run_brs("restore", *args)
    assert restore.returncode == 0, restore.stderr
    # The restored directory carries the admin password: start it without --initial-password.
    restored = servers(server.directory, initial_password=False)
    assert content(restored) == expected


class TestRethinkDBContract(DatabaseContract):
    @pytest.fixture
    def source(self, servers: Callable[..., RealServer], tmp_path: Path) -> tuple[RealServer, dict[str, Any]]:
        """The server the contract backs up, and what a restore must bring back."""
        server = servers(tmp_path / "source")
        load_sample(server)
        return server, content(server)

    @pytest.fixture
    def database(self, source: tuple[RealServer, dict[str, Any]], tmp_path: Path) -> Database:
        server, _ = source
        (tmp_path / "pw").write_text(PASSWORD + "\n")
        options = {
            "rethinkdb_url": f"127.0.0.1:{server.port}",
            "rethinkdb_passwordfile": tmp_path / "pw",
            "rethinkdb_binary": str(BINARY),
        }
        return RethinkDB(PluginContext(name="rethinkdb", options=options, data_dir=server.directory))

    @pytest.fixture
    def assert_restored(
        self, source: tuple[RealServer, dict[str, Any]], servers: Callable[..., RealServer]
    ) -> Callable[[Path], None]:
        _, expected = source

        def check(target: Path) -> None:
            restored = servers(target, initial_password=False)
            assert content(restored) == expected

        return check
