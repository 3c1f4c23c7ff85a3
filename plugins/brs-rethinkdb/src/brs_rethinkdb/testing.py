"""Test helpers: real RethinkDB servers on loopback ports and a sample data set.

Used by this plugin's tests and by the pod tests of the repository. A missing server build is
a test *failure* with a clear message, never a skip.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from brs import assembly
from brs.processes import free_port, stop_process
from brs.testing import BULK

from brs_rethinkdb.connection import driver_password
from brs_rethinkdb.plugin import RethinkDB

__all__ = [
    "BINARY_ENV",
    "LARGE_ROWS",
    "PASSWORD",
    "MissingServer",
    "RealServer",
    "content",
    "driver",
    "load_bulk",
    "load_sample",
    "server_binary",
    "write_dump_tarball",
]

#: The server binary (scripts/test-servers.env); the default is where scripts/install-test-servers.sh puts it.
BINARY_ENV = "BRS_RETHINKDB_BINARY"
#: Outside ASCII and outside latin-1: the driver's latin-1 handshake must not break it.
PASSWORD = "brs test pässword ✓"


class MissingServer(AssertionError):
    """The RethinkDB server the tests need is not installed."""


class RealServer:
    """A real ``rethinkdb`` process for the integration tests; :meth:`stop` is idempotent."""

    def __init__(self, binary: str, directory: Path, password: str = PASSWORD) -> None:
        self.binary = binary
        self.directory = directory
        self.password = password
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *, initial_password: bool = True) -> RealServer:
        """Start on free loopback ports; returns once the admin password is accepted."""
        self.port, cluster = self.port or free_port(), free_port()
        command = [self.binary, "--directory", str(self.directory), "--bind", "127.0.0.1", "--driver-port", str(self.port),
                   "--cluster-port", str(cluster), "--no-http-admin", "--no-update-check"]  # fmt: skip
        if initial_password:
            command += ["--initial-password", self.password]  # a test server; fine on a command line
        log = open(self.directory.parent / f"rethinkdb-{self.port}.log", "wb")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(command, cwd=self.directory.parent, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"rethinkdb exited with {self.process.returncode}")
            try:
                self.connect().close()
                return self
            except Exception:  # not up yet
                if time.monotonic() > deadline:
                    self.stop()
                    raise
                time.sleep(0.2)

    def connect(self) -> Any:
        from rethinkdb import RethinkDB

        # The server hashes the password's UTF-8 bytes; see driver_password for the driver's side.
        return RethinkDB().connect(
            host="127.0.0.1", port=self.port, user="admin", password=driver_password(self.password), timeout=5
        )

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            stop_process(process, 60)


#: Documents in the sample's large table (about 4 MB of JSON: several dump and restore chunks).
LARGE_ROWS = 20_000


def load_sample(server: RealServer) -> None:
    """Two databases, tables with secondary indexes (simple, compound, multi) and one large table."""
    from rethinkdb import RethinkDB

    r = RethinkDB()
    with server.connect() as conn:
        r.db_create("shop").run(conn)
        items = r.db("shop").table("items")
        r.db("shop").table_create("items").run(conn)
        items.index_create("price").run(conn)
        items.index_create("price_name", [r.row["price"], r.row["name"]]).run(conn)
        items.index_wait().run(conn)
        items.insert([{"id": i, "name": f"item ✓ {i}", "price": i % 17} for i in range(500)]).run(conn)
        r.db("shop").table_create("users", primary_key="email").run(conn)
        users = r.db("shop").table("users")
        users.index_create("tags", multi=True).run(conn)
        users.insert([{"email": f"u{i}@example.org", "tags": ["a", i]} for i in range(20)]).run(conn)
        r.db_create("metrics").run(conn)
        r.db("metrics").table_create("samples").run(conn)
        samples = r.db("metrics").table("samples")
        samples.index_create("at").run(conn)
        for start in range(0, LARGE_ROWS, 5000):
            batch = [{"id": i, "at": i * 10, "host": f"node-{i % 7}", "text": "x" * 150} for i in range(start, start + 5000)]
            samples.insert(batch).run(conn)


def content(server: RealServer) -> dict[str, Any]:
    """Every user table with its documents and secondary indexes."""
    from rethinkdb import RethinkDB

    r = RethinkDB()
    result: dict[str, Any] = {}
    with server.connect() as conn:
        for db in r.db_list().run(conn):
            if db == "rethinkdb":
                continue
            # After a (re)start tables come up one by one; reading one too early fails.
            r.db(db).wait(wait_for="all_replicas_ready", timeout=60).run(conn)
            for table in r.db(db).table_list().run(conn):
                handle = r.db(db).table(table)
                key = handle.info()["primary_key"].run(conn)
                docs = sorted(handle.run(conn), key=lambda doc: str(doc[key]))
                result[f"{db}.{table}"] = {
                    "primary_key": key,
                    # Name, kind and the compiled index function: the index itself, not only its name.
                    "indexes": sorted(
                        (status["index"], status["multi"], status["geo"], bytes(status["function"]))
                        for status in handle.index_status().run(conn)
                    ),
                    "documents": docs,
                }
    return result


def load_bulk(server: RealServer, size: int = BULK) -> None:
    """At least ``size`` bytes of random binary values in one table (cheap to insert, incompressible)."""
    from rethinkdb import RethinkDB as Driver

    r = Driver()
    piece = 1 << 20
    with server.connect() as conn:
        r.db_create("bulk").run(conn)
        r.db("bulk").table_create("blobs").run(conn)
        for start in range(0, size // piece + 2, 8):
            batch = [{"id": i, "blob": r.binary(os.urandom(piece))} for i in range(start, start + 8)]
            r.db("bulk").table("blobs").insert(batch).run(conn)


def driver(values: Mapping[str, Any], data_dir: Path | None = None) -> RethinkDB:
    """The plugin's driver as brs builds it from option values keyed by click parameter name."""
    made = assembly.database("rethinkdb", values, data_dir=data_dir)
    assert isinstance(made, RethinkDB)
    return made


def write_dump_tarball(path: Path, tables: dict[str, list[dict[str, Any]]]) -> Path:
    """A tarball laid out as ``rethinkdb dump`` writes it (``rethinkdb_dump_DATE/DB/TABLE.*``).

    ``tables`` maps ``db.table`` to its documents; an empty mapping gives the empty tarball the
    tool writes for a database without tables.
    """
    top = "rethinkdb_dump_2026-11-24T04:00:00"
    with tarfile.open(path, mode="w:gz") as tar:
        for name, documents in tables.items():
            db, table = name.split(".")
            info: dict[str, Any] = {"db": {"name": db}, "name": table, "primary_key": "id", "indexes": [], "write_hook": None}
            for suffix, data in ((".info", json.dumps(info)), (".json", json.dumps(documents))):
                member = tarfile.TarInfo(f"{top}/{db}/{table}{suffix}")
                payload = data.encode()
                member.size = len(payload)
                tar.addfile(member, io.BytesIO(payload))
    return path


def server_binary() -> str:
    """The RethinkDB server the tests run; a missing one FAILS the test (never a skip)."""
    default = Path(os.environ.get("BRS_TEST_ROOT", "/opt/brs-test")) / "rethinkdb-2.4.4" / "bin" / "rethinkdb"
    binary = os.environ.get(BINARY_ENV) or str(default)
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        raise MissingServer(f"no RethinkDB server at {binary}: run `make test-servers` (or set {BINARY_ENV})")
    return binary
