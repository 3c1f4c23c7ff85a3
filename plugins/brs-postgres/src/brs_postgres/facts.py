"""What a backup records about the server (:class:`ServerFacts`), apart from the psycopg code
that reads them (:mod:`brs_postgres.probe`): restores and a backup's start need the type, not the
driver, whose import costs about 0.1 s."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["ServerFacts"]


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
