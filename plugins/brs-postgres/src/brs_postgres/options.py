"""Options of the postgres plugin, declared once (flags, ``BRS_POSTGRES_*`` variables, config keys)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from brs.options import PluginOptions, option, secret

from brs_postgres.passfile import Client, password_file

__all__ = ["METHODS", "PostgresOptions"]

#: Backup methods; ``basebackup`` is physical (same major only), ``dumpall`` is logical SQL.
METHODS = ("basebackup", "dumpall")


@dataclass(frozen=True)
class PostgresOptions(PluginOptions):
    """How the plugin reaches the server, where its programs are and how it upgrades."""

    prefix: ClassVar[str] = "postgres"

    host: str = option("127.0.0.1", "Server host name or socket directory.")
    port: int = option(5432, "Server port.", minimum=1, maximum=65535)
    user: str = option("postgres", "Role to connect as (a superuser or replication role).")
    password: str | None = secret("Password of --postgres-user.")
    method: str = option(
        "basebackup",
        "basebackup: physical copy with pg_basebackup (restores into the same major version); "
        "dumpall: logical SQL with pg_dumpall (restores into the same or a newer major version).",
        flag="backup-method",
        choices=METHODS,
    )
    basebackup_compression: str = option(
        "auto",
        "How the base backup's stream is compressed before brs's own compression: server (the server compresses"
        " with lz4 and sends the archive over the replication protocol; PostgreSQL 15+), lz4 (pg_basebackup"
        " compresses in its own process; PostgreSQL 15+ built with lz4), none (the plain stream of pg_basebackup),"
        " or auto (server where it can, else lz4 where it can, else none).",
        choices=("auto", "server", "lz4", "none"),
    )
    bindir: Path | None = option(
        None, "Directory with the PostgreSQL programs (default: `pg_config --bindir` of the pg_config on PATH, else PATH)."
    )
    binaries_store: Path | None = option(
        None,
        "Where copies of the server programs (pg-bin-v<major>) and pre-upgrade dumps are kept "
        "(default: the parent of --db-data-directory; never inside the data directory).",
    )
    system_user: str = option(
        "postgres", "Operating-system account that runs the server; owns restored files when brs runs as root."
    )
    upgrade_mode: str = option(
        "link", "pg_upgrade file transfer: link (hard links, little extra space) or copy.", choices=("link", "copy")
    )
    strip_attver: str = option(
        "auto",
        "Remove Debian's pg_attver column option before pg_upgrade (auto: when the new programs are not Debian's).",
        flag="upgrade-strip-attver",
        choices=("auto", "always", "never"),
    )

    @property
    def server(self) -> str:
        """How errors name the server: ``host:port``."""
        return f"{self.host}:{self.port}"

    @contextmanager
    def client(self) -> Iterator[Client]:
        """What libpq's child programs need to reach the server while the block runs. The
        password reaches them as an in-memory password file, never through their environment
        or command line (:mod:`brs_postgres.passfile`)."""
        env = {
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": self.user,
            "PGDATABASE": "postgres",
            "PGCONNECT_TIMEOUT": "10",
            "PGAPPNAME": "brs",
        }
        if not self.password:
            yield Client(env)
            return
        with password_file(self.password) as descriptor:
            yield Client({**env, "PGPASSFILE": f"/dev/fd/{descriptor}"}, (descriptor,))
