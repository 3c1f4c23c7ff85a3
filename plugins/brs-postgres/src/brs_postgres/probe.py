"""Talking to the live server through psycopg: readiness, version and facts a backup records."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo
from brs.errors import DatabaseError

from brs_postgres.options import PostgresOptions
from brs_postgres.tools import parse_major

__all__ = ["config_files", "connect", "data_dir_major", "server_version", "system_identifier", "update_timescaledb"]

log = logging.getLogger("brs.database.postgres")

#: Config files that live in the data directory of most images; a logical dump does not carry them.
CONFIG_FILES = ("postgresql.conf", "postgresql.auto.conf", "pg_hba.conf", "pg_ident.conf")


def connect(
    settings: PostgresOptions, dbname: str = "postgres", *, conninfo: str | None = None, timeout: int = 10
) -> psycopg.Connection[Any]:
    """An autocommit connection; failures become one line that names the server, never the password."""
    try:
        if conninfo is not None:
            return psycopg.connect(conninfo, autocommit=True, connect_timeout=timeout)
        return psycopg.connect(
            host=settings.host,
            port=settings.port,
            user=settings.user,
            password=settings.password or None,
            dbname=dbname,
            autocommit=True,
            connect_timeout=timeout,
            application_name="brs",
        )
    except psycopg.Error as error:
        where = conninfo.split(" user=")[0] if conninfo else settings.server
        raise DatabaseError(f"cannot connect to PostgreSQL at {where} as {settings.user}: {_reason(error)}") from None


def _reason(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    # libpq prefixes the real cause with "connection to server at ... failed:"; keep the cause.
    text = " ".join(lines) or type(error).__name__
    return text.replace("\n", " ")[:300]


def server_version(settings: PostgresOptions) -> str:
    """``SHOW server_version`` of the live server (e.g. ``16.14``)."""
    with connect(settings) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]).split(" ", 1)[0] if row else ""


def system_identifier(settings: PostgresOptions) -> str:
    """``postgres:<system identifier>`` of the live server (PostgreSQL 9.6+)."""
    with connect(settings, timeout=3) as conn:
        try:
            row = conn.execute("SELECT system_identifier FROM pg_control_system()").fetchone()
        except psycopg.Error as error:
            raise DatabaseError(f"cannot read the system identifier: {' '.join(str(error).split())}") from None
    if not row:
        raise DatabaseError("pg_control_system() returned nothing")
    return f"postgres:{row[0]}"


def config_files(settings: PostgresOptions) -> dict[str, str]:
    """The config files that live inside the data directory, read through the server.

    Needs a superuser or pg_read_server_files; without them the restore keeps initdb's files.
    """
    with connect(settings) as conn:
        return _config_files(conn)


def _config_files(conn: psycopg.Connection[Any]) -> dict[str, str]:
    files: dict[str, str] = {}
    try:
        row = conn.execute("SELECT current_setting('data_directory')").fetchone()
        data_directory = Path(str(row[0])) if row else None
        paths = {name: data_directory / name for name in CONFIG_FILES} if data_directory else {}
        for name, setting in (("postgresql.conf", "config_file"), ("pg_hba.conf", "hba_file"), ("pg_ident.conf", "ident_file")):
            located = conn.execute("SELECT current_setting(%s)", (setting,)).fetchone()
            if located and data_directory and Path(str(located[0])).parent != data_directory:
                paths.pop(name, None)  # kept outside PGDATA (Debian's /etc): not part of the cluster
        for name, path in paths.items():
            try:
                content = conn.execute("SELECT pg_read_file(%s)", (str(path),)).fetchone()
            except psycopg.errors.UndefinedFile:
                continue
            if content and content[0] is not None:
                files[name] = str(content[0])
    except psycopg.Error as error:
        log.warning("config files not included in the dump (%s); a restore uses initdb's defaults", _reason(error))
        return {}
    return files


def data_dir_major(data_dir: Path) -> int | None:
    """The major version in ``PG_VERSION``, ``None`` when the file is missing."""
    try:
        text = (data_dir / "PG_VERSION").read_text().strip()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise DatabaseError(f"cannot read {data_dir / 'PG_VERSION'}: {error.strerror or error}") from None
    return parse_major(text)


def update_timescaledb(conninfo_or_settings: PostgresOptions | str, settings: PostgresOptions) -> None:
    """``ALTER EXTENSION timescaledb UPDATE`` in every database whose extension is older than the library.

    The update must be the first statement of its session (TimescaleDB refuses once the old
    version was loaded), so the version is read in one connection and the update runs in another.
    """
    base = conninfo_or_settings if isinstance(conninfo_or_settings, str) else None
    with connect(settings, conninfo=base) as conn:
        names = [str(r[0]) for r in conn.execute("SELECT datname FROM pg_database WHERE datallowconn").fetchall()]
    for name in names:
        conninfo = None if base is None else make_conninfo(base, dbname=name)
        with connect(settings, name, conninfo=conninfo) as conn:
            row = conn.execute(
                "SELECT e.extversion, a.default_version FROM pg_extension e"
                " JOIN pg_available_extensions a ON a.name = e.extname WHERE e.extname = 'timescaledb'"
            ).fetchone()
        if row is None or row[0] == row[1]:
            continue
        log.info("updating the timescaledb extension in database %s from %s to %s", name, row[0], row[1])
        with connect(settings, name, conninfo=conninfo) as conn:
            conn.execute("ALTER EXTENSION timescaledb UPDATE")
