"""Pieces that need no server: option parsing, version parsing, the SQL filter, error lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from brs.errors import ConfigError, DatabaseError
from brs.interfaces import PluginContext

from brs_postgres import Postgres
from brs_postgres.dumpall import skip_bootstrap_role
from brs_postgres.options import PostgresSettings
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
    settings = PostgresSettings.from_options({"postgres_port": 6543, "postgres_password_file": str(secret)})
    assert (settings.server, settings.password, settings.method) == ("127.0.0.1:6543", "from-file", "basebackup")
    env = settings.client_env()
    assert env["PGPASSWORD"] == "from-file" and env["PGPORT"] == "6543"
    with pytest.raises(ConfigError):
        PostgresSettings.from_options({"postgres_password": "a", "postgres_password_file": str(secret)})


def test_the_binaries_store_may_not_be_inside_the_data_directory(tmp_path: Path) -> None:
    plugin = Postgres(PluginContext(name="postgres", options={"postgres_binaries_store": str(tmp_path / "data" / "bin")}))
    with pytest.raises(ConfigError):
        plugin.store(tmp_path / "data")
    assert Postgres(PluginContext(name="postgres")).store(tmp_path / "data") == tmp_path


def test_missing_programs_name_the_directory(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match=f"pg_dumpall not found in {tmp_path}"):
        Toolset(tmp_path).path("pg_dumpall")


def test_error_lines_prefer_the_cause() -> None:
    text = "pg_basebackup: starting\npg_basebackup: error: connection failed: FATAL:  password authentication failed\n"
    assert error_line(text) == "pg_basebackup: error: connection failed: FATAL: password authentication failed"
    assert error_line("") == "no error output"
