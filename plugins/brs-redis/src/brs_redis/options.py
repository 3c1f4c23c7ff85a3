"""The plugin's options, shared by the redis, keydb and valkey names."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from brs.errors import ConfigError
from brs.options import PluginOptions, option, secret

__all__ = ["DEFAULT_DBFILENAME", "RedisOptions"]

DEFAULT_DBFILENAME = "dump.rdb"


@dataclass(frozen=True)
class RedisOptions(PluginOptions):
    """Where the server is, how to reach it, and the file names a restore writes."""

    prefix: ClassVar[str] = "redis"

    addr: str = option("127.0.0.1:6379", "host:port of the server.")
    username: str | None = option(None, "ACL user name (default: the server's default user).")
    password: str | None = secret("Password of the server (AUTH).")
    tls: bool = option(False, "Connect with TLS.")
    ca_cert: Path | None = option(None, "CA certificate that signed the server's TLS certificate.", metavar="FILE")
    cert: Path | None = option(None, "Client TLS certificate (mutual TLS).", metavar="FILE")
    key: Path | None = option(None, "Private key of --redis-cert.", metavar="FILE")
    rdb_path: Path | None = option(
        None,
        "RDB file the server writes, as this process sees it. Needed when CONFIG is disabled or renamed; "
        "default: CONFIG GET dir + dbfilename.",
        metavar="FILE",
    )
    dbfilename: str = option(DEFAULT_DBFILENAME, "Restore: file name of the RDB in the data directory (the server's dbfilename).")
    appendonly: str = option(
        "yes",
        "Restore: also write a Redis 7 append-only-file manifest whose base is the restored RDB, so that the data is "
        "loaded whether the server starts with appendonly yes or no. no: only the RDB. auto: as the backed-up server "
        "had it.",
        choices=("yes", "no", "auto"),
    )
    appenddirname: str | None = option(None, "Restore: the server's appenddirname (default: as backed up, else appendonlydir).")
    appendfilename: str | None = option(
        None, "Restore: the server's appendfilename (default: as backed up, else appendonly.aof)."
    )
    bgsave_timeout: float = option(3600.0, "Seconds to wait for BGSAVE to finish.", minimum=1)
    check_rdb: str | None = option(
        None, "redis-check-rdb program used to check a data directory (default: the one matching --db on PATH)."
    )

    def __post_init__(self) -> None:
        if (self.cert is None) != (self.key is None):
            raise ConfigError("--redis-cert and --redis-key must be set together")
        _split_addr(self.addr)  # a malformed --redis-addr fails when the options are read

    @property
    def endpoint(self) -> tuple[str, int]:
        """``(host, port)`` of ``addr``."""
        return _split_addr(self.addr)

    @property
    def uses_tls(self) -> bool:
        # Any certificate option implies TLS: a CA file given for a plain connection is a mistake.
        return self.tls or any(path is not None for path in (self.ca_cert, self.cert, self.key))


def _split_addr(addr: str) -> tuple[str, int]:
    host, sep, port = addr.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"--redis-addr {addr!r} is not host:port")
    return host.strip("[]"), int(port)
