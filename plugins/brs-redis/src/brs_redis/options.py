"""Command-line options of the plugin and the connection settings read from them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import click

from brs.errors import ConfigError
from brs.options import read_secret, secret_option

__all__ = ["DEFAULT_ADDR", "DEFAULT_DBFILENAME", "ConnectionSettings", "plugin_options"]

DEFAULT_ADDR = "127.0.0.1:6379"
DEFAULT_DBFILENAME = "dump.rdb"


def plugin_options() -> Sequence[click.Option]:
    """Every option of the plugin, shared by the redis, keydb and valkey names."""
    return (
        click.Option(["--redis-addr"], default=DEFAULT_ADDR, show_default=True, help="host:port of the server."),
        click.Option(["--redis-username"], default=None, help="ACL user name (default: the server's default user)."),
        *secret_option("redis-password", "Password of the server (AUTH)."),
        click.Option(["--redis-tls"], is_flag=True, default=False, help="Connect with TLS."),
        click.Option(
            ["--redis-ca-cert"],
            default=None,
            type=click.Path(dir_okay=False),
            help="CA certificate that signed the server's TLS certificate.",
        ),
        click.Option(
            ["--redis-cert"], default=None, type=click.Path(dir_okay=False), help="Client TLS certificate (mutual TLS)."
        ),
        click.Option(["--redis-key"], default=None, type=click.Path(dir_okay=False), help="Private key of --redis-cert."),
        click.Option(
            ["--redis-rdb-path"],
            default=None,
            type=click.Path(dir_okay=False),
            help="RDB file the server writes, as this process sees it. Needed when CONFIG is disabled or renamed; "
            "default: CONFIG GET dir + dbfilename.",
        ),
        click.Option(
            ["--redis-dbfilename"],
            default=DEFAULT_DBFILENAME,
            show_default=True,
            help="Restore: file name of the RDB in the data directory (the server's dbfilename).",
        ),
        click.Option(
            ["--redis-appendonly"],
            default="yes",
            show_default=True,
            type=click.Choice(["yes", "no", "auto"]),
            help="Restore: also write a Redis 7 append-only-file manifest whose base is the restored RDB, so that the "
            "data is loaded whether the server starts with appendonly yes or no. no: only the RDB. auto: as the "
            "backed-up server had it.",
        ),
        click.Option(
            ["--redis-appenddirname"],
            default=None,
            help="Restore: the server's appenddirname (default: as backed up, else appendonlydir).",
        ),
        click.Option(
            ["--redis-appendfilename"],
            default=None,
            help="Restore: the server's appendfilename (default: as backed up, else appendonly.aof).",
        ),
        click.Option(
            ["--redis-bgsave-timeout"],
            default=3600.0,
            show_default=True,
            type=click.FloatRange(min=1),
            help="Seconds to wait for BGSAVE to finish.",
        ),
        click.Option(
            ["--redis-check-rdb"],
            default=None,
            help="redis-check-rdb program used to check a data directory (default: the one matching --db on PATH).",
        ),
    )


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and how to connect; ``label`` names the server in every message."""

    host: str
    port: int
    label: str
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_cert: str | None = None
    cert: str | None = None
    key: str | None = None

    @classmethod
    def from_options(cls, engine: str, options: Mapping[str, Any]) -> ConnectionSettings:
        addr = str(options.get("redis_addr") or DEFAULT_ADDR)
        host, port = _split_addr(addr)
        tls_files = [options.get(name) for name in ("redis_ca_cert", "redis_cert", "redis_key")]
        if bool(options.get("redis_cert")) != bool(options.get("redis_key")):
            raise ConfigError("--redis-cert and --redis-key must be set together")
        return cls(
            host=host,
            port=port,
            label=f"{engine} at {addr}",
            username=options.get("redis_username") or None,
            password=read_secret(options, "redis-password"),
            # Any certificate option implies TLS: a CA file given for a plain connection is a mistake.
            tls=bool(options.get("redis_tls")) or any(tls_files),
            ca_cert=tls_files[0],
            cert=tls_files[1],
            key=tls_files[2],
        )


def _split_addr(addr: str) -> tuple[str, int]:
    host, sep, port = addr.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"--redis-addr {addr!r} is not host:port")
    return host.strip("[]"), int(port)
