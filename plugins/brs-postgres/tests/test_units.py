"""Pieces that need no server: option parsing, version parsing, the SQL filter, error lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from brs.errors import BrsError, ConfigError, DatabaseError
from brs.interfaces import DataDirStatus, PluginContext
from brs.testing import archive_of

from brs_postgres import Postgres
from brs_postgres.dumpall import skip_bootstrap_role
from brs_postgres.options import PostgresOptions
from brs_postgres.testing import driver
from brs_postgres.tools import Toolset, error_line, parse_major


def test_versions_are_parsed_leniently() -> None:
    assert parse_major("PostgreSQL 16.14") == 16
    assert parse_major("PostgreSQL 15.20 (Debian 15.20-0+deb12u1)") == 15
    assert parse_major("18beta1") == 18
    with pytest.raises(DatabaseError):
        parse_major("9.6.24")
    with pytest.raises(DatabaseError):
        parse_major("unknown")


def test_the_bootstrap_role_is_skipped_only_in_the_roles_section() -> None:
    sql = (
        b'SET x = 1;\nCREATE ROLE "postgres";\nALTER ROLE "postgres" WITH SUPERUSER;\nCREATE ROLE "app";\n'
        b"\\connect template1\nCREATE ROLE postgres;\n"
    )
    for size in (1, 7, 1000):
        chunks = [sql[i : i + size] for i in range(0, len(sql), size)]
        out = b"".join(skip_bootstrap_role(iter(chunks), "postgres"))
        assert out == sql.replace(b'CREATE ROLE "postgres";\n', b"", 1)


def test_settings_and_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    settings = driver({"postgres_port": "6543", "postgres_password_file": str(secret)}).settings
    assert (settings.server, settings.password, settings.method) == ("127.0.0.1:6543", "from-file", "basebackup")
    with settings.client() as client:
        env = client.env
    assert env["PGPORT"] == "6543" and "from-file" not in env.values() and "PGPASSWORD" not in env
    assert "from-file" not in repr(settings)
    with pytest.raises(ConfigError):
        PostgresOptions.from_values({"postgres_password": "a", "postgres_password_file": str(secret)})
    with pytest.raises(ConfigError, match="--postgres-backup-method must be one of basebackup, dumpall"):
        PostgresOptions.from_values({"postgres_backup_method": "pg_dump"})
    with pytest.raises(ConfigError, match="--postgres-port must be at most 65535"):
        PostgresOptions.from_values({"postgres_port": 70000})


def test_flags_variables_and_defaults_keep_their_names() -> None:
    """Users' flags, BRS_* variables and config keys (and the old tool's deployments) depend on these."""
    assert {item.flag: item.default for item in PostgresOptions.declared()} == {
        "postgres-host": "127.0.0.1",
        "postgres-port": 5432,
        "postgres-user": "postgres",
        "postgres-password": None,
        "postgres-backup-method": "basebackup",
        "postgres-basebackup-compression": "auto",
        "postgres-bindir": None,
        "postgres-binaries-store": None,
        "postgres-system-user": "postgres",
        "postgres-upgrade-mode": "link",
        "postgres-upgrade-strip-attver": "auto",
    }
    assert {option.envvar for option in PostgresOptions.click_options()} == {
        "BRS_POSTGRES_HOST", "BRS_POSTGRES_PORT", "BRS_POSTGRES_USER", "BRS_POSTGRES_PASSWORD",
        "BRS_POSTGRES_PASSWORD_FILE", "BRS_POSTGRES_BACKUP_METHOD", "BRS_POSTGRES_BASEBACKUP_COMPRESSION", "BRS_POSTGRES_BINDIR",
        "BRS_POSTGRES_BINARIES_STORE", "BRS_POSTGRES_SYSTEM_USER", "BRS_POSTGRES_UPGRADE_MODE",
        "BRS_POSTGRES_UPGRADE_STRIP_ATTVER",
    }  # fmt: skip


def test_the_binaries_store_may_not_be_inside_the_data_directory(tmp_path: Path) -> None:
    plugin = driver({"postgres_binaries_store": str(tmp_path / "data" / "bin")})
    with pytest.raises(ConfigError):
        plugin.store(tmp_path / "data")
    assert Postgres(PluginContext(name="postgres", settings=PostgresOptions())).store(tmp_path / "data") == tmp_path


def test_empty_missing_lost_found_and_file_data_directories(tmp_path: Path) -> None:
    plugin = Postgres(PluginContext(name="postgres", settings=PostgresOptions(bindir=tmp_path / "bin")))
    (tmp_path / "volume" / "lost+found").mkdir(parents=True)
    for path in (tmp_path / "missing", tmp_path / "volume"):
        state = plugin.check(path)
        assert state.status is DataDirStatus.EMPTY and state.needs_restore
    (tmp_path / "pgdata").write_text("not a directory")
    assert plugin.check(tmp_path / "pgdata").status is DataDirStatus.CORRUPT


def test_missing_programs_name_the_directory(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match=f"pg_dumpall not found in {tmp_path}"):
        Toolset(tmp_path).path("pg_dumpall")


def test_error_lines_prefer_the_cause() -> None:
    text = "pg_basebackup: starting\npg_basebackup: error: connection failed: FATAL:  password authentication failed\n"
    assert error_line(text) == "pg_basebackup: error: connection failed: FATAL: password authentication failed"
    assert error_line("") == "no error output"


@pytest.mark.parametrize(
    ("members", "expected"),
    [
        ({"dumpall.sql": b"SELECT 1;"}, "the backup has no brs-postgres.json before its data; it was not made by brs-postgres"),
        ({"brs-postgres.json": json.dumps({"format": 4}).encode(), "dumpall.sql": b""}, "has format 4, newer than the 3"),
        ({"brs-postgres.json": b'{"format": 1, "method": "dumpall"}', "dumpall.sql": b""}, "brs-postgres.json is unreadable"),
        ({"brs-postgres.json": b"[1, 2]", "dumpall.sql": b""}, "brs-postgres.json is not a JSON object"),
    ],
    ids=["data-first", "newer-format", "no-server-facts", "not-an-object"],
)
def test_the_metadata_member_is_checked_before_any_data(members: dict[str, bytes], expected: str, tmp_path: Path) -> None:
    plugin = Postgres(PluginContext(name="postgres", settings=PostgresOptions(bindir=tmp_path / "bin")))
    target = tmp_path / "target"
    target.mkdir()
    with pytest.raises(BrsError, match=expected) as caught:
        plugin.restore(archive_of(members), target)
    assert "\n" not in str(caught.value) and list(target.iterdir()) == []
