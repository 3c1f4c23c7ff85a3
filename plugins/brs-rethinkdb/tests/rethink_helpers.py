"""Helpers: dump-tool-shaped tarballs, archives in memory, and a real server when one is available."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import time
from pathlib import Path
from typing import Any

from brs.processes import free_port, stop_process

#: Set to a rethinkdb server binary to run the integration tests (none can be installed here).
BINARY_ENV = "BRS_RETHINKDB_BINARY"
PASSWORD = "brs test pässword"


def write_dump_tarball(path: Path, tables: dict[str, list[dict[str, Any]]]) -> Path:
    """A tarball laid out as ``rethinkdb dump`` writes it (``rethinkdb_dump_DATE/DB/TABLE.*``).

    ``tables`` maps ``db.table`` to its documents; an empty mapping gives the empty tarball the
    tool writes for a database without tables.
    """
    top = "rethinkdb_dump_2026-11-24T04:00:00"
    with tarfile.open(path, mode="w:gz") as tar:
        for name, documents in tables.items():
            db, table = name.split(".")
            info = {"db": {"name": db}, "name": table, "primary_key": "id", "indexes": [], "write_hook": None}
            for suffix, data in ((".info", json.dumps(info)), (".json", json.dumps(documents))):
                member = tarfile.TarInfo(f"{top}/{db}/{table}{suffix}")
                payload = data.encode()
                member.size = len(payload)
                tar.addfile(member, io.BytesIO(payload))
    return path


def closed_port() -> int:
    """A loopback port nothing listens on (bound and released)."""
    return free_port()


class RealServer:
    """A real ``rethinkdb`` process for the integration tests; :meth:`stop` is idempotent."""

    def __init__(self, binary: str, directory: Path, password: str = PASSWORD) -> None:
        self.binary = binary
        self.directory = directory
        self.password = password
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *, initial_password: bool = True) -> RealServer:
        self.port, cluster = closed_port(), closed_port()
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

        return RethinkDB().connect(host="127.0.0.1", port=self.port, user="admin", password=self.password, timeout=5)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            stop_process(process, 60)


def load_sample(server: RealServer) -> None:
    from rethinkdb import RethinkDB

    r = RethinkDB()
    with server.connect() as conn:
        r.db_create("shop").run(conn)
        r.db("shop").table_create("items").run(conn)
        r.db("shop").table("items").index_create("price").run(conn)
        r.db("shop").table("items").index_wait().run(conn)
        r.db("shop").table("items").insert([{"id": i, "name": f"item ✓ {i}", "price": i % 17} for i in range(500)]).run(conn)
        r.db("shop").table_create("users", primary_key="email").run(conn)
        r.db("shop").table("users").insert([{"email": f"u{i}@example.org", "tags": ["a", i]} for i in range(20)]).run(conn)


def content(server: RealServer) -> dict[str, Any]:
    """Every user table with its documents and secondary indexes."""
    from rethinkdb import RethinkDB

    r = RethinkDB()
    result: dict[str, Any] = {}
    with server.connect() as conn:
        for db in r.db_list().run(conn):
            if db == "rethinkdb":
                continue
            for table in r.db(db).table_list().run(conn):
                handle = r.db(db).table(table)
                key = handle.info()["primary_key"].run(conn)
                docs = sorted(handle.run(conn), key=lambda doc: str(doc[key]))
                result[f"{db}.{table}"] = {
                    "primary_key": key,
                    "indexes": sorted(handle.index_list().run(conn)),
                    "documents": docs,
                }
    return result


def binary_from_env() -> str | None:
    return os.environ.get(BINARY_ENV) or None
