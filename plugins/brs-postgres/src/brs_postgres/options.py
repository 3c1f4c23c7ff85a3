"""Command-line options of the postgres plugin and their resolved values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from brs.errors import ConfigError
from brs.options import read_secret, secret_option

__all__ = ["METHODS", "PostgresSettings", "plugin_options"]

#: Backup methods; ``basebackup`` is physical (same major only), ``dumpall`` is logical SQL.
METHODS = ("basebackup", "dumpall")


def plugin_options() -> Sequence[click.Option]:
    """The click options the ``postgres`` plugin adds to brs commands."""
    return (
        click.Option(["--postgres-host"], default="127.0.0.1", show_default=True, help="Server host name or socket directory."),
        click.Option(["--postgres-port"], default=5432, show_default=True, type=click.IntRange(1, 65535), help="Server port."),
        click.Option(
            ["--postgres-user"],
            default="postgres",
            show_default=True,
            help="Role to connect as (a superuser or replication role).",
        ),
        *secret_option("postgres-password", "Password of --postgres-user."),
        click.Option(
            ["--postgres-backup-method"],
            default="basebackup",
            show_default=True,
            type=click.Choice(METHODS),
            help="basebackup: physical copy with pg_basebackup (restores into the same major version); "
            "dumpall: logical SQL with pg_dumpall (restores into the same or a newer major version).",
        ),
        click.Option(
            ["--postgres-bindir"],
            default=None,
            help="Directory with the PostgreSQL programs (default: `pg_config --bindir` of the pg_config on PATH, else PATH).",
        ),
        click.Option(
            ["--postgres-binaries-store"],
            default=None,
            help="Where copies of the server programs (pg-bin-v<major>) and pre-upgrade dumps are kept "
            "(default: the parent of --db-data-directory; never inside the data directory).",
        ),
        click.Option(
            ["--postgres-system-user"],
            default="postgres",
            show_default=True,
            help="Operating-system account that runs the server; owns restored files when brs runs as root.",
        ),
        click.Option(
            ["--postgres-upgrade-mode"],
            default="link",
            show_default=True,
            type=click.Choice(["link", "copy"]),
            help="pg_upgrade file transfer: link (hard links, little extra space) or copy.",
        ),
        click.Option(
            ["--postgres-upgrade-strip-attver"],
            default="auto",
            show_default=True,
            type=click.Choice(["auto", "always", "never"]),
            help="Remove Debian's pg_attver column option before pg_upgrade (auto: when the new programs are not Debian's).",
        ),
    )


@dataclass(frozen=True)
class PostgresSettings:
    """The resolved option values one plugin instance works with."""

    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    password: str | None = None
    method: str = "basebackup"
    bindir: Path | None = None
    binaries_store: Path | None = None
    system_user: str = "postgres"
    upgrade_mode: str = "link"
    strip_attver: str = "auto"

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> PostgresSettings:
        def get(name: str, default: Any) -> Any:
            value = options.get(name)
            return default if value is None else value

        method = str(get("postgres_backup_method", "basebackup"))
        if method not in METHODS:
            raise ConfigError(f"--postgres-backup-method must be one of {', '.join(METHODS)}, not {method!r}")
        bindir = options.get("postgres_bindir")
        store = options.get("postgres_binaries_store")
        return cls(
            host=str(get("postgres_host", "127.0.0.1")),
            port=int(get("postgres_port", 5432)),
            user=str(get("postgres_user", "postgres")),
            password=read_secret(options, "postgres-password"),
            method=method,
            bindir=Path(bindir) if bindir else None,
            binaries_store=Path(store) if store else None,
            system_user=str(get("postgres_system_user", "postgres")),
            upgrade_mode=str(get("postgres_upgrade_mode", "link")),
            strip_attver=str(get("postgres_upgrade_strip_attver", "auto")),
        )

    @property
    def server(self) -> str:
        """How errors name the server: ``host:port``."""
        return f"{self.host}:{self.port}"

    def client_env(self) -> dict[str, str]:
        """libpq variables for child tools; the password travels here, never on a command line."""
        env = {
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": self.user,
            "PGDATABASE": "postgres",
            "PGCONNECT_TIMEOUT": "10",
            "PGAPPNAME": "brs",
        }
        if self.password:
            env["PGPASSWORD"] = self.password
        return env
