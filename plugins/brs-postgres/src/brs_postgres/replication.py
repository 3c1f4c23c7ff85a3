"""A base backup received over PostgreSQL's replication protocol (PostgreSQL 15+).

``BASE_BACKUP`` with ``COMPRESSION 'lz4'`` makes the server's own sender compress the archive:
the backend that reads the files also shrinks them, the 1 GB of a pgbench cluster crosses the
socket as about a tenth of it, and nothing in between copies it again. The reply is one COPY
stream of typed messages: ``n`` opens the archive (its name), ``d`` carries its bytes, ``m``
says the backup manifest follows, whose bytes come in more ``d`` messages; ``p`` reports
progress. :class:`BaseBackupReceiver` hands the archive and then the manifest on as readers,
so each streams into the backup as it arrives.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from brs.errors import DatabaseError

from brs_postgres import libpq

if TYPE_CHECKING:
    from brs_postgres.options import PostgresOptions
    from brs_postgres.tools import Toolset

__all__ = ["MINIMUM_VERSION", "BaseBackupReceiver", "CompressionUnsupported", "connect"]

#: The first server whose BASE_BACKUP takes options in parentheses and sends one COPY stream.
MINIMUM_VERSION = 150000
#: The server's answer when it was built without the compression asked for.
_UNSUPPORTED = "does not support compression"
_DATA_CORRUPTED = "XX001"


def connect(settings: PostgresOptions, tools: Toolset) -> libpq.Connection | None:
    """A physical replication connection to a PostgreSQL 15+ server, or None when this one is
    older or no libpq can be loaded (a backup then runs ``pg_basebackup``).

    :raises DatabaseError: the server cannot be reached or refuses the login.
    """
    directories = [path for path in (tools.library_path, tools.bindir and tools.bindir.parent / "lib") if path is not None]
    lib = libpq.load(directories)
    if lib is None:
        return None
    params = {
        "host": settings.host,
        "port": str(settings.port),
        "user": settings.user,
        "dbname": "postgres",
        "replication": "true",
        "application_name": "brs",
        "connect_timeout": "10",
    }
    if settings.password:
        params["password"] = settings.password
    connection = libpq.Connection(lib, params, settings.server)
    if connection.server_version < MINIMUM_VERSION:
        connection.close()
        return None
    return connection


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class CompressionUnsupported(DatabaseError):
    """The server was built without the compression asked for."""


class BaseBackupReceiver:
    """One ``BASE_BACKUP`` on ``connection``: :meth:`start` it, wait until it :meth:`started`, read
    :meth:`archive` to its end, then :meth:`manifest`, then :meth:`finish`. Closing the
    connection at any point aborts the backup on the server."""

    def __init__(self, connection: libpq.Connection) -> None:
        self._connection = connection
        self.what = connection.what
        self.archive_name = ""
        self._pending = memoryview(b"")
        self._phase = "archive"

    def start(self, label: str, compression: str | None) -> None:
        """Send the command; the server's checkpoint runs while the caller does other work."""
        options = [
            f"LABEL {_quoted(label)}",
            "WAL",  # the WAL needed for consistency goes into the archive (pg_basebackup -X fetch)
            "CHECKPOINT 'fast'",
            "WAIT 0",  # and is not waited for in the WAL archive
            "TABLESPACE_MAP",
            "MANIFEST 'yes'",
            "TARGET 'client'",
        ]
        if compression is not None:
            options.append(f"COMPRESSION {_quoted(compression)}")
        self._connection.send(f"BASE_BACKUP ({', '.join(options)})")

    def started(self) -> None:
        """Wait for the checkpoint and the start of the archive.

        :raises CompressionUnsupported: the server cannot compress as asked (nothing was sent).
        :raises DatabaseError: anything else that stops the backup.
        """
        try:
            self._expect(libpq.PGRES_TUPLES_OK, "starting the base backup")  # the start position
        except DatabaseError as error:
            if _UNSUPPORTED in str(error):
                raise CompressionUnsupported(str(error)) from None
            raise
        header = self._expect(libpq.PGRES_TUPLES_OK, "reading the backup's tablespaces")
        if len(header) != 1:
            raise DatabaseError(
                f"{self.what} has {len(header) - 1} tablespace(s) besides the data directory;"
                " a base backup through brs holds the data directory only (use --postgres-backup-method dumpall)"
            )
        self._expect(libpq.PGRES_COPY_OUT, "starting the base backup's stream")

    def _expect(self, status: int, doing: str) -> list[list[str | None]]:
        result = self._connection.result()
        if result is None:
            raise DatabaseError(f"{doing} on {self.what} failed: the server sent no result ({self._connection.error})")
        try:
            if result.status != status:
                if result.sqlstate == _DATA_CORRUPTED:
                    raise DatabaseError(f"{doing} on {self.what} failed: a data file failed its checksum: {result.error}")
                raise DatabaseError(f"{doing} on {self.what} failed: {result.error or self._connection.error}")
            return result.rows()
        finally:
            result.close()

    # -- the COPY stream ---------------------------------------------------------------------
    def _fill(self, phase: str) -> bool:
        """Make bytes of ``phase`` pending; False once that phase has no more."""
        while not self._pending:
            if self._phase != phase:
                return False
            message = self._connection.copy_data()
            if message is None:
                if self._phase == "archive":
                    # The server ended the stream early; its error result says why.
                    self._expect(libpq.PGRES_TUPLES_OK, "sending the base backup")
                    raise DatabaseError(f"the base backup from {self.what} ended without its manifest")
                self._phase = "done"
                return False
            kind = message[:1]
            if kind == b"d":
                if not self.archive_name:
                    raise DatabaseError(f"malformed base backup stream from {self.what}: data before an archive")
                self._pending = memoryview(message)[1:]
            elif kind == b"n" and self._phase == "archive":
                if self.archive_name:
                    raise DatabaseError(f"{self.what} sent a second archive; a base backup through brs holds one")
                self.archive_name = message[1:].split(b"\0", 1)[0].decode(errors="replace")
            elif kind == b"m" and self._phase == "archive":
                if not self.archive_name:
                    raise DatabaseError(f"malformed base backup stream from {self.what}: a manifest without an archive")
                self._phase = "manifest"
            elif kind != b"p":
                raise DatabaseError(f"malformed base backup stream from {self.what}: message {kind!r}")
        return True

    def _read_into(self, phase: str, buffer: memoryview) -> int:
        if not self._fill(phase):
            return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def archive(self) -> io.RawIOBase:
        """The archive's bytes (compressed as asked), up to the manifest."""
        return _PhaseReader(self, "archive")

    def manifest(self) -> io.RawIOBase:
        """The backup manifest's bytes; read after the archive."""
        if self._phase == "archive":
            raise DatabaseError(f"the base backup from {self.what} has not reached its manifest")
        return _PhaseReader(self, "manifest")

    def finish(self) -> None:
        """Check the end of the backup (its end position, then success) and close the connection."""
        try:
            while self._fill("manifest"):
                self._pending = memoryview(b"")
            self._expect(libpq.PGRES_TUPLES_OK, "ending the base backup")
            self._expect(libpq.PGRES_COMMAND_OK, "ending the base backup")
        finally:
            self.close()

    def close(self) -> None:
        self._connection.close()


class _PhaseReader(io.RawIOBase):
    def __init__(self, receiver: BaseBackupReceiver, phase: str) -> None:
        self._receiver = receiver
        self._phase = phase

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        return self._receiver._read_into(self._phase, memoryview(buffer).cast("B"))
