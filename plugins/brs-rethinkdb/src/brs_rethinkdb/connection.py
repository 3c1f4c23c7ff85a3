"""Talking to a RethinkDB server with the Python driver (probe, version, readiness)."""

from __future__ import annotations

from typing import Any

from rethinkdb import RethinkDB
from rethinkdb.errors import ReqlAuthError, ReqlDriverError, ReqlError

from brs.errors import DatabaseError

__all__ = ["AuthRejected", "connect", "server_version"]

#: Seconds one connection attempt may take.
CONNECT_TIMEOUT = 5


class AuthRejected(DatabaseError):
    """The server is up but refused the admin password."""


def connect(host: str, port: int, password: str | None) -> Any:
    """An open driver connection as ``admin``; one-line errors for the usual failures."""
    r = RethinkDB()
    try:
        return r.connect(host=host, port=port, user="admin", password=password or "", timeout=CONNECT_TIMEOUT)
    except ReqlAuthError as error:
        raise AuthRejected(f"RethinkDB at {host}:{port} rejected the admin password: {error}") from error
    except (ReqlDriverError, OSError) as error:
        raise DatabaseError(f"cannot reach RethinkDB at {host}:{port}: {_first_line(error)}") from error


def server_version(host: str, port: int, password: str | None) -> str:
    """The server's version, e.g. ``2.4.4~0bookworm`` from ``rethinkdb 2.4.4~0bookworm (GCC 12.2.0)``."""
    r = RethinkDB()
    connection = connect(host, port, password)
    try:
        text = str(r.db("rethinkdb").table("server_status").nth(0)["process"]["version"].run(connection))
    except ReqlError as error:
        raise DatabaseError(f"RethinkDB at {host}:{port} did not report its version: {_first_line(error)}") from error
    finally:
        connection.close()
    words = text.split()
    return words[1] if len(words) > 1 and words[0] in ("rethinkdb", "rebirthdb") else text


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
