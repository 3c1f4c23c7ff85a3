"""A throw-away server on a data directory, reachable only through a private Unix socket.

Restores and upgrades start PostgreSQL on data that is not live yet. Nobody else may connect to
it, so it listens on no TCP address at all, and its socket lives in a fresh directory that only
the server's account can enter.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import TracebackType

from brs import killpoints
from brs.errors import DatabaseError

from brs_postgres.tools import Owner, Toolset, error_line

__all__ = ["TempServer", "write_trust_hba"]

#: The port only names the socket file inside the private directory.
_SOCKET_PORT = 5432


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


class TempServer:
    """Context manager: ``pg_ctl start`` on enter, a clean ``pg_ctl stop`` on exit.

    :param options: extra ``-c name=value`` settings (e.g. ``shared_preload_libraries``).
    """

    def __init__(self, tools: Toolset, data_dir: Path, owner: Owner, options: tuple[str, ...] = ()) -> None:
        self.tools = tools
        self.data_dir = data_dir
        self.owner = owner
        self.options = options
        self.socket_dir: Path | None = None
        self.port = _SOCKET_PORT
        self.running = False

    def client_env(self, user: str) -> dict[str, str]:
        """libpq variables that reach this server over its socket as ``user``."""
        assert self.socket_dir is not None
        return {"PGHOST": str(self.socket_dir), "PGPORT": str(self.port), "PGUSER": user, "PGDATABASE": "postgres"}

    def conninfo(self, user: str, dbname: str = "postgres") -> str:
        assert self.socket_dir is not None
        return f"host={self.socket_dir} port={self.port} user={user} dbname={dbname}"

    def start(self) -> None:
        self.socket_dir = self.owner.private_dir("brs-pg-")
        log = self.socket_dir / "server.log"
        hba = write_trust_hba(self.socket_dir, self.owner)
        settings = " ".join(
            [
                f"-p {self.port}",
                "-c listen_addresses=''",
                f"-c unix_socket_directories='{self.socket_dir}'",
                f"-c hba_file='{hba}'",
                *(f"-c {o}" for o in self.options),
            ]
        )
        try:
            self.tools.run(
                "pg_ctl",
                ["-D", str(self.data_dir), "-l", str(log), "-w", "-t", "300", "-o", settings, "start"],
                owner=self.owner,
                cwd=self.socket_dir,
                what=f"starting a temporary server on {self.data_dir}",
            )
        except DatabaseError as error:
            detail = error_line(log.read_text(errors="replace")) if log.exists() else str(error)
            self._cleanup()
            raise DatabaseError(f"cannot start PostgreSQL on {self.data_dir}: {detail}") from None
        self.running = True
        killpoints.reached("postgres-temporary-server")

    def stop(self) -> None:
        """Stop cleanly (a fast shutdown still checkpoints); raises if it does not stop."""
        if not self.running:
            self._cleanup()
            return
        try:
            self.tools.run(
                "pg_ctl",
                ["-D", str(self.data_dir), "-m", "fast", "-w", "-t", "300", "stop"],
                owner=self.owner,
                cwd=self.socket_dir,
                what=f"stopping the temporary server on {self.data_dir}",
            )
            self.running = False
        finally:
            if not self.running:
                self._cleanup()

    def kill(self) -> None:
        """Best-effort immediate stop after a failure (the data is discarded or retried anyway)."""
        if self.running:
            try:
                self.tools.run(
                    "pg_ctl", ["-D", str(self.data_dir), "-m", "immediate", "-w", "stop"], owner=self.owner, cwd=self.socket_dir
                )
                self.running = False
            except DatabaseError:
                pass
        self._cleanup()

    def _cleanup(self) -> None:
        if self.socket_dir is not None and not self.running:
            shutil.rmtree(self.socket_dir, ignore_errors=True)
            self.socket_dir = None

    def __enter__(self) -> TempServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc_type is None:
            self.stop()
        else:
            # Another error is on its way up; a clean stop is still better than an immediate one.
            try:
                self.stop()
            except DatabaseError:
                self.kill()
