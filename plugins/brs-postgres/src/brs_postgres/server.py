"""A throw-away server on a data directory, reachable only through a private Unix socket.

Restores and upgrades start PostgreSQL on data that is not live yet. Nobody else may connect to
it, so it listens on no TCP address at all, and its socket lives in a fresh directory that only
the server's account can enter. The process itself is a :class:`brs.kit.server.TemporaryServer`:
``postgres`` runs as brs's child (not daemonized by ``pg_ctl``), so it never outlives brs.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from brs import killpoints
from brs.errors import DatabaseError
from brs.kit.server import TemporaryServer

from brs_postgres.tools import Owner, Toolset, error_line

__all__ = ["TempServer", "write_trust_hba"]

#: The port only names the socket file inside the private directory.
_SOCKET_PORT = 5432
#: Seconds to start (crash recovery of a restored base backup included) and to stop cleanly.
_TIMEOUT = 300.0
#: ``postmaster.pid`` line 8: what ``pg_ctl -w`` waits for (PostgreSQL 10+).
_READY = ("ready", "standby")


def write_trust_hba(directory: Path, owner: Owner) -> Path:
    """A pg_hba.conf that trusts local socket connections, for a server whose socket is private.

    The cluster's own pg_hba.conf may demand passwords or peer authentication that brs cannot
    satisfy; only the owner of ``directory`` (and root) can reach a socket inside it.
    """
    path = directory / "brs_hba.conf"
    path.write_text("local all all trust\n")
    os.chmod(path, 0o600)
    owner.chown(path)
    return path


class TempServer(TemporaryServer):
    """``postgres`` on ``data_dir`` as ``owner``; as a context manager, started on entry and stopped cleanly on exit.

    :param options: extra ``-c name=value`` settings (e.g. ``shared_preload_libraries``).
    """

    what = "temporary PostgreSQL server"
    port_count = 0  # a Unix socket only
    stop_signal = signal.SIGINT  # PostgreSQL's fast shutdown: ends sessions, then a checkpoint
    stop_timeout = _TIMEOUT

    def __init__(self, tools: Toolset, data_dir: Path, owner: Owner, options: tuple[str, ...] = ()) -> None:
        socket_dir = owner.private_dir("brs-pg-")  # also the working directory, with the server's log
        super().__init__(socket_dir, log=logging.getLogger("brs.database.postgres"))
        self.socket_dir: Path | None = socket_dir
        self.tools = tools
        self.data_dir = data_dir
        self.owner = owner
        self.options = options

    @property
    def port(self) -> int:
        """The number in the socket's file name (the server listens on no TCP port)."""
        return _SOCKET_PORT

    def client_env(self, user: str) -> dict[str, str]:
        """libpq variables that reach this server over its socket as ``user``."""
        assert self.socket_dir is not None
        return {"PGHOST": str(self.socket_dir), "PGPORT": str(self.port), "PGUSER": user, "PGDATABASE": "postgres"}

    def conninfo(self, user: str, dbname: str = "postgres") -> str:
        assert self.socket_dir is not None
        return f"host={self.socket_dir} port={self.port} user={user} dbname={dbname}"

    # -- what the kit asks for ---------------------------------------------------------------
    def command(self) -> list[str]:
        assert self.socket_dir is not None
        hba = write_trust_hba(self.socket_dir, self.owner)
        settings = ["listen_addresses=", f"unix_socket_directories={self.socket_dir}", f"hba_file={hba}", *self.options]
        options = [part for setting in settings for part in ("-c", setting)]
        return [self.tools.path("postgres"), "-D", str(self.data_dir), "-p", str(self.port), *options]

    def ready(self) -> bool:
        # What pg_ctl -w waits for: postmaster.pid names this process and says it accepts connections.
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        except (OSError, UnicodeDecodeError):
            return False
        return len(lines) >= 8 and lines[0].strip() == str(self.pid) and lines[7].strip() in _READY

    def environment(self) -> Mapping[str, str]:
        return self.tools.env()  # no PG* variables meant for the live server; saved programs' libraries

    def popen_options(self) -> dict[str, Any]:
        return self.owner.process_kwargs()  # PostgreSQL refuses to run as root

    def last_error(self) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return error_line(text)  # PostgreSQL's FATAL/PANIC line first

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self, timeout: float = _TIMEOUT) -> Self:
        """Start and wait until the server accepts connections (one-line DatabaseError otherwise)."""
        try:
            super().start(timeout)
        except DatabaseError as error:
            self._cleanup()
            raise DatabaseError(f"cannot start PostgreSQL on {self.data_dir}: {error}") from None
        killpoints.reached("postgres-temporary-server")
        return self

    def stop(self) -> bool:
        """Stop cleanly (a fast shutdown still checkpoints); raises if it does not, or had stopped on its own."""
        if self.pid is None:
            self._cleanup()
            return True
        died = None if self.running() else self.last_error()
        if super().stop() and died is None:
            return True
        if died is not None:
            raise DatabaseError(f"the temporary server on {self.data_dir} stopped on its own: {died}")
        raise DatabaseError(f"the temporary server on {self.data_dir} did not stop within {self.stop_timeout:.0f}s")

    def kill(self) -> None:
        """Immediate stop after a failure (the data is discarded or retried anyway)."""
        super().kill()
        self._cleanup()

    def _cleanup(self) -> None:
        if self.socket_dir is not None and not self.running():
            shutil.rmtree(self.socket_dir, ignore_errors=True)
            self.socket_dir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc_type is None:
            self.stop()
        else:
            # Another error is on its way up; a clean stop is still better than an immediate one.
            try:
                self.stop()
            except DatabaseError:
                self.kill()
