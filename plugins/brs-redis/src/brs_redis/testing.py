"""Test helpers: real Redis and Valkey servers on free loopback ports, and a sample data set.

Used by this plugin's tests and by end-to-end tests elsewhere in the repository; import the
fixtures into a ``conftest.py`` (``from brs_redis.testing import start_server as start_server``).
A missing server program is a test *failure* with a clear message, never a skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from brs.testing import ServerProcess, free_port, server_factory

__all__ = [
    "ENGINES",
    "Server",
    "StartServer",
    "load_bulk",
    "load_sample",
    "server_binary",
    "snapshot",
    "start_server",
]

ENGINES = {
    # engine name -> (env var, default path), as in scripts/test-servers.env
    "redis": ("BRS_REDIS_SERVER", "/usr/bin/redis-server"),
    "valkey": ("BRS_VALKEY_SERVER", "/usr/bin/valkey-server"),
}


def server_binary(engine: str) -> str:
    """The server program; a missing one fails the test (CI must not silently skip).

    A path set in the environment must exist; without one, the Debian path and then ``PATH``.
    """
    variable, default = ENGINES[engine]
    configured = os.environ.get(variable)
    path = configured or default
    if os.path.isfile(path) and os.access(path, os.X_OK):
        return path
    found = None if configured else shutil.which(Path(default).name)
    if found is None:
        pytest.fail(f"{engine} server not found at {path} (set {variable}; run scripts/install-system-deps.sh)", pytrace=False)
    return found


@dataclass
class Server(ServerProcess):
    """One redis-server or valkey-server process on loopback; :meth:`start` launches it."""

    engine: str
    directory: Path
    extra: tuple[str, ...] = ()  #: more server arguments (``--dbfilename``, ``custom.rdb``)
    password: str | None = None
    appendonly: bool = False
    tls: Path | None = None  #: certificates of :func:`brs.testing.make_certificates`: TLS only, client certificates required
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client(self, **kwargs: Any) -> redis.Redis:
        kwargs.setdefault("password", self.password)
        if self.tls is not None:
            kwargs.update(ssl=True, ssl_ca_certs=str(self.tls / "ca.crt"), ssl_certfile=str(self.tls / "client.crt"))
            kwargs.update(ssl_keyfile=str(self.tls / "client.key"))
        kwargs.setdefault("decode_responses", True)
        return redis.Redis(host="127.0.0.1", port=self.port, **kwargs)

    def start(self) -> Server:
        """Launch on a free port and wait until it answers (a port taken meanwhile: another one)."""
        binary = server_binary(self.engine)
        self.directory.mkdir(parents=True, exist_ok=True)
        for _attempt in range(5):
            self.port = free_port()
            log = self.directory.parent / f"{self.directory.name}.{self.port}.log"
            # fmt: off
            args = [
                binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory), "--save", "",
                "--appendonly", "yes" if self.appendonly else "no", "--logfile", str(log), "--daemonize", "no",
            ]
            # fmt: on
            if self.tls is not None:
                args[1:3] = ["--port", "0", "--tls-port", str(self.port)]
                args += ["--tls-cert-file", str(self.tls / "server.crt"), "--tls-key-file", str(self.tls / "server.key")]
                args += ["--tls-ca-cert-file", str(self.tls / "ca.crt"), "--tls-auth-clients", "yes"]
            args += self.extra
            if self.password is not None:
                args += ["--requirepass", self.password]
            self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if _wait_ready(self):
                return self
            self.stop()
            if "Address already in use" not in self.log():
                pytest.fail(f"{self.engine} did not start on {self.directory}:\n{self.log()[-2000:]}", pytrace=False)
        pytest.fail(f"{self.engine} found no free port", pytrace=False)

    def log(self) -> str:
        path = self.directory.parent / f"{self.directory.name}.{self.port}.log"
        return path.read_text(errors="replace") if path.exists() else ""


StartServer = Callable[..., Server]


def _server(
    engine: str, directory: Path, *extra: str, password: str | None = None, appendonly: bool = False, tls: Path | None = None
) -> Server:
    return Server(engine, directory, extra, password, appendonly, tls)


@pytest.fixture
def start_server() -> Iterator[StartServer]:
    """``start_server(engine, directory, *extra_args, password=None, appendonly=False, tls=None)``
    returns a :class:`Server` that answers; every one is stopped when the test ends."""
    yield from server_factory(_server)


def _wait_ready(server: Server, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process is None or server.process.poll() is not None:
            return False
        try:
            with server.client(socket_connect_timeout=1) as client:
                # LOADING replies with an error until the dataset is in memory.
                if client.ping():
                    return True
        except (redis.ConnectionError, redis.BusyLoadingError, redis.TimeoutError):
            pass
        except redis.ResponseError as error:
            if "LOADING" not in str(error):
                raise
        time.sleep(0.05)
    return False


# --- sample data covering every type ------------------------------------------------------
def load_sample(client: redis.Redis) -> None:
    """Strings, hashes, lists, sets, sorted sets, streams, binary values and TTLs."""
    pipe = client.pipeline()
    for i in range(200):
        pipe.set(f"string:{i}", f"value-{i}")
    pipe.set("binary", "\x00\x01\xff".encode("latin-1"))
    pipe.set("big", "x" * 200_000)
    pipe.hset("hash", mapping={f"field{i}": str(i) for i in range(50)})
    pipe.rpush("list", *[f"item{i}" for i in range(100)])
    pipe.sadd("set", *[f"member{i}" for i in range(60)])
    pipe.sadd("intset", *range(20))
    pipe.zadd("zset", {f"player{i}": i * 1.5 for i in range(40)})
    for i in range(30):
        pipe.xadd("stream", {"n": str(i), "word": f"w{i}"}, id=f"1700000000000-{i}")
    pipe.set("ttl:short", "expires", ex=3600)
    pipe.hset("ttl:hash", mapping={"a": "1"})
    pipe.expire("ttl:hash", 7200)
    pipe.execute()
    pipe = client.pipeline(transaction=False)
    pipe.execute_command("SELECT", 3)  # type: ignore[no-untyped-call]
    pipe.set("db3:key", "in database 3")
    pipe.execute_command("SELECT", 0)  # type: ignore[no-untyped-call]
    pipe.execute()


def load_bulk(client: redis.Redis, size: int, piece: int = 8 << 20) -> None:
    """More than ``size`` bytes in a few large random values (incompressible, quick to load)."""
    for index in range(size // piece + 1):
        client.set(f"bulk:{index}", os.urandom(piece))


def snapshot(server: Server) -> dict[str, Any]:
    """Every key of databases 0 and 3 with type, value (as bytes) and whether it has a TTL."""
    result: dict[str, Any] = {}
    for db in (0, 3):
        with server.client(decode_responses=False, db=db) as client:
            for key in sorted(client.scan_iter(count=1000)):
                kind = client.type(key).decode()
                if kind == "string":
                    value: Any = client.get(key)
                elif kind == "hash":
                    value = client.hgetall(key)
                elif kind == "list":
                    value = client.lrange(key, 0, -1)
                elif kind == "set":
                    value = sorted(client.smembers(key))
                elif kind == "zset":
                    value = client.zrange(key, 0, -1, withscores=True)
                elif kind == "stream":
                    value = client.xrange(key)
                else:
                    value = kind
                result[f"{db}/{key.decode()}"] = (kind, value, client.ttl(key) > 0)
    return result
