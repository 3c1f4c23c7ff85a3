"""Talking to a RethinkDB server with the Python driver (probe, version, readiness)."""

from __future__ import annotations

from typing import Any

from rethinkdb import RethinkDB
from rethinkdb.errors import ReqlAuthError, ReqlDriverError, ReqlError

from brs.errors import DatabaseError

__all__ = ["AuthRejected", "connect", "driver_password", "server_version", "wait_tables_ready"]

#: Seconds one connection attempt may take.
CONNECT_TIMEOUT = 5


class AuthRejected(DatabaseError):
    """The server is up but refused the admin password."""


def driver_password(password: str) -> str:
    """``password`` in the form the Python driver turns into the password's UTF-8 bytes.

    The driver's handshake encodes the password as latin-1 (``six.b``), while the server hashes
    the UTF-8 bytes of the password it was given. Left alone, a password with characters outside
    ASCII is refused as "Wrong password" (or crashes the driver beyond latin-1). Its UTF-8 bytes
    read as latin-1 encode back to exactly those bytes, so every password works; ASCII passwords
    are unchanged.
    """
    return password.encode("utf-8").decode("latin-1")


def connect(host: str, port: int, password: str | None) -> Any:
    """An open driver connection as ``admin``; one-line errors for the usual failures."""
    r = RethinkDB()
    try:
        return r.connect(host=host, port=port, user="admin", password=driver_password(password or ""), timeout=CONNECT_TIMEOUT)
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


def wait_tables_ready(host: str, port: int, password: str | None, timeout: float) -> None:
    """Wait until every table of every database is ready for reads and writes.

    Right after a server (re)starts, its tables come up one by one; reading one that is not
    ready yet fails ("Primary replica for shard ... not available"), so a dump waits first.
    """
    r = RethinkDB()
    connection = connect(host, port, password)
    try:
        for name in r.db_list().run(connection):
            if name != "rethinkdb":
                r.db(name).wait(wait_for="all_replicas_ready", timeout=max(1, int(timeout))).run(connection)
    except ReqlError as error:
        raise DatabaseError(f"the tables of RethinkDB at {host}:{port} did not become ready: {_first_line(error)}") from error
    finally:
        connection.close()


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
