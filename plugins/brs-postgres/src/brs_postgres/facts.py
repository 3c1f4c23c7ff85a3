"""What a backup records about the server (:class:`ServerFacts`) and how a backup reads it.

A backup reads the facts with one ``psql`` call (:func:`read_live`) rather than through psycopg:
importing psycopg costs about 0.3 s of CPU, and a base backup would spend it, holding the
interpreter's lock, while pg_basebackup's stream waits on its full pipe. Restores need only
the type.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from brs.errors import DatabaseError

if TYPE_CHECKING:
    from brs_postgres.options import PostgresOptions
    from brs_postgres.tools import Toolset

__all__ = ["ServerFacts", "read_live"]

#: Everything a backup records, as one JSON object on one line (psql prints it as it is).
#: pg_settings hides shared_preload_libraries from a role that is not allowed to read it (a
#: replication role is enough for a base backup), where current_setting() would fail.
_LIVE_QUERY = """SELECT json_build_object(
  'server_version', current_setting('server_version'),
  'server_version_num', current_setting('server_version_num')::int,
  'superuser', (SELECT rolname FROM pg_roles WHERE oid = 10),
  'encoding', (SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = 'template0'),
  'lc_collate', (SELECT datcollate FROM pg_database WHERE datname = 'template0'),
  'lc_ctype', (SELECT datctype FROM pg_database WHERE datname = 'template0'),
  'data_checksums', current_setting('data_checksums') = 'on',
  'preload_libraries', (SELECT setting FROM pg_settings WHERE name = 'shared_preload_libraries'),
  'system_identifier', (SELECT system_identifier::text FROM pg_control_system()))"""


@dataclass(frozen=True)
class ServerFacts:
    """What a backup records about the server, so a restore can rebuild a matching cluster."""

    server_version: str
    server_version_num: int
    superuser: str
    encoding: str
    lc_collate: str
    lc_ctype: str
    data_checksums: bool
    config: dict[str, str]
    #: ``shared_preload_libraries`` of the running server (empty in backups made before it was recorded).
    preload_libraries: str = ""

    @property
    def major(self) -> int:
        return self.server_version_num // 10000

    @property
    def preloads_timescaledb(self) -> bool:
        """Whether the server ran with TimescaleDB preloaded (from the setting, else its config files)."""
        if self.preload_libraries:
            return "timescaledb" in [name.strip().strip('"') for name in self.preload_libraries.split(",")]
        return any(
            re.search(r"^\s*shared_preload_libraries\s*=\s*'[^'\n]*\btimescaledb\b", self.config.get(name, ""), re.MULTILINE)
            for name in ("postgresql.conf", "postgresql.auto.conf")
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ServerFacts:
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})


def read_live(settings: PostgresOptions, tools: Toolset) -> tuple[ServerFacts, str]:
    """The live server's facts (without its config files) and its identity
    (``postgres:<system identifier>``), read with one ``psql`` call.

    :raises DatabaseError: the server does not answer, or the answer is not what was asked.
    """
    import json

    with settings.client() as client:
        out = tools.run(
            "psql",
            ["-X", "-A", "-t", "-q", "--no-password", "-c", _LIVE_QUERY],
            env=client.env,
            pass_fds=client.pass_fds,
            what=f"reading the server's facts from {settings.server}",
            timeout=60,
        )
    try:
        answer = json.loads(out)
        identity = f"postgres:{int(answer.pop('system_identifier'))}"
        answer["server_version"] = str(answer["server_version"]).split(" ", 1)[0]
        answer["preload_libraries"] = answer["preload_libraries"] or ""
        facts = ServerFacts.from_json({**answer, "config": {}})
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise DatabaseError(f"unexpected answer from {settings.server} to the facts query: {error}") from None
    return facts, identity
