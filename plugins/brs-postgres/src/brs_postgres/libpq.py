"""The dozen libpq calls that a base backup over the replication protocol needs, through ctypes.

Why not psycopg, which this plugin uses elsewhere: importing it costs about 0.3 s of CPU, which a
backup would spend before the server could start sending. Why not ``pg_basebackup``: it cannot
write a server-compressed archive and its manifest to standard output, and a temporary copy on
disk is what brs avoids. libpq itself does the work (authentication, TLS, the protocol); this
module only declares its C functions and turns its failures into one-line errors. Each blocking
call releases the interpreter's lock, as every ctypes call does.
"""

from __future__ import annotations

import ctypes
import importlib.util
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from brs.errors import DatabaseError

__all__ = ["Connection", "Result", "load"]

_SONAME = "libpq.so.5"
CONNECTION_OK = 0
PGRES_COMMAND_OK = 1
PGRES_TUPLES_OK = 2
PGRES_COPY_OUT = 3
_PG_DIAG_SQLSTATE = ord("C")

_SIGNATURES: dict[str, tuple[object, list[object]]] = {
    "PQconnectdbParams": (ctypes.c_void_p, [ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_char_p), ctypes.c_int]),
    "PQstatus": (ctypes.c_int, [ctypes.c_void_p]),
    "PQerrorMessage": (ctypes.c_char_p, [ctypes.c_void_p]),
    "PQserverVersion": (ctypes.c_int, [ctypes.c_void_p]),
    "PQsendQuery": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p]),
    "PQgetResult": (ctypes.c_void_p, [ctypes.c_void_p]),
    "PQresultStatus": (ctypes.c_int, [ctypes.c_void_p]),
    "PQresultErrorMessage": (ctypes.c_char_p, [ctypes.c_void_p]),
    "PQresultErrorField": (ctypes.c_char_p, [ctypes.c_void_p, ctypes.c_int]),
    "PQntuples": (ctypes.c_int, [ctypes.c_void_p]),
    "PQnfields": (ctypes.c_int, [ctypes.c_void_p]),
    "PQgetvalue": (ctypes.c_char_p, [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]),
    "PQgetisnull": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]),
    "PQclear": (None, [ctypes.c_void_p]),
    "PQgetCopyData": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p), ctypes.c_int]),
    "PQfreemem": (None, [ctypes.c_void_p]),
    "PQfinish": (None, [ctypes.c_void_p]),
}


def _candidates(library_dirs: Sequence[Path]) -> Iterator[str]:
    """Where libpq may be: beside the PostgreSQL programs in use, the system's, then psycopg's own."""
    for directory in library_dirs:
        if (directory / _SONAME).exists():
            yield str(directory / _SONAME)
    yield _SONAME
    spec = importlib.util.find_spec("psycopg_binary")  # finds the package without importing it
    if spec is not None and spec.origin is not None:
        yield from sorted(str(p) for p in (Path(spec.origin).parent.parent / "psycopg_binary.libs").glob("libpq-*.so*"))


def load(library_dirs: Sequence[Path] = ()) -> ctypes.CDLL | None:
    """libpq with its functions declared, or None when there is none to load."""
    for candidate in _candidates(library_dirs):
        try:
            lib = ctypes.CDLL(candidate)  # RTLD_LOCAL: its symbols stay out of psycopg's way
        except OSError:
            continue
        for name, (restype, argtypes) in _SIGNATURES.items():
            function = getattr(lib, name)
            function.restype = restype
            function.argtypes = argtypes
        return lib
    return None


def _text(value: bytes | None) -> str:
    return " ".join((value or b"").decode(errors="replace").split())


class Result:
    """One PGresult; :meth:`close` frees it."""

    def __init__(self, lib: ctypes.CDLL, handle: int) -> None:
        self._lib = lib
        self._handle: int | None = handle

    @property
    def status(self) -> int:
        return int(self._lib.PQresultStatus(self._handle))

    @property
    def error(self) -> str:
        return _text(self._lib.PQresultErrorMessage(self._handle))

    @property
    def sqlstate(self) -> str:
        return _text(self._lib.PQresultErrorField(self._handle, _PG_DIAG_SQLSTATE))

    def rows(self) -> list[list[str | None]]:
        lib, handle = self._lib, self._handle

        def value(row: int, col: int) -> str | None:
            return None if lib.PQgetisnull(handle, row, col) else bytes(lib.PQgetvalue(handle, row, col)).decode()

        return [[value(row, col) for col in range(lib.PQnfields(handle))] for row in range(lib.PQntuples(handle))]

    def close(self) -> None:
        if self._handle is not None:
            self._lib.PQclear(self._handle)
            self._handle = None


class Connection:
    """A libpq connection opened with keyword parameters (the password stays in this process)."""

    def __init__(self, lib: ctypes.CDLL, params: Mapping[str, str], what: str) -> None:
        self._lib = lib
        self.what = what
        keys = (ctypes.c_char_p * (len(params) + 1))(*[key.encode() for key in params], None)
        values = (ctypes.c_char_p * (len(params) + 1))(*[value.encode() for value in params.values()], None)
        self._handle: int | None = lib.PQconnectdbParams(keys, values, 0)
        if not self._handle:
            raise DatabaseError(f"cannot connect to {what}: out of memory")
        if lib.PQstatus(self._handle) != CONNECTION_OK:
            message = self.error
            self.close()
            raise DatabaseError(f"cannot connect to {what}: {message}")

    @property
    def error(self) -> str:
        return _text(self._lib.PQerrorMessage(self._handle))

    @property
    def server_version(self) -> int:
        return int(self._lib.PQserverVersion(self._handle))

    def send(self, command: str) -> None:
        if not self._lib.PQsendQuery(self._handle, command.encode()):
            raise DatabaseError(f"cannot send {command.split(' ', 1)[0]} to {self.what}: {self.error}")

    def result(self) -> Result | None:
        """The next result of the command sent, or None when there is no more."""
        handle = self._lib.PQgetResult(self._handle)
        return Result(self._lib, handle) if handle else None

    def copy_data(self) -> bytes | None:
        """The next message of a COPY from the server (waiting for it), or None at its end."""
        buffer = ctypes.c_void_p()
        size = self._lib.PQgetCopyData(self._handle, ctypes.byref(buffer), 0)
        if size == -1:
            return None
        if size < 0:
            raise DatabaseError(f"the stream from {self.what} broke off: {self.error}")
        try:
            return ctypes.string_at(buffer.value or 0, size)
        finally:
            self._lib.PQfreemem(buffer)

    def close(self) -> None:
        if self._handle is not None:
            self._lib.PQfinish(self._handle)
            self._handle = None
