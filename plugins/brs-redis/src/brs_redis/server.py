"""What the running server tells about itself: role, version, where its RDB file is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import redis.exceptions as rexc

from brs.errors import DatabaseError
from brs_redis.options import DEFAULT_DBFILENAME

__all__ = ["PersistenceConfig", "is_primary", "persistence_config", "server_version"]


def server_version(client: redis.Redis) -> str | None:
    """The fork's own version (Valkey also reports a compatible ``redis_version``)."""
    info = client.info("server")
    for key in ("valkey_version", "keydb_version", "redis_version"):
        if key in info:
            return str(info[key])
    return None


def is_primary(client: redis.Redis) -> tuple[bool, str]:
    """``(True, "master")`` for a primary, else ``(False, role)``."""
    role = str(client.info("replication").get("role", "unknown"))
    return role == "master", role


@dataclass(frozen=True)
class PersistenceConfig:
    """Where the server writes its RDB and how its append-only file is named."""

    rdb_path: Path
    dbfilename: str
    appendonly: bool | None
    appenddirname: str | None
    appendfilename: str | None

    def metadata(self) -> dict[str, Any]:
        return {
            "dbfilename": self.dbfilename,
            "appendonly": self.appendonly,
            "appenddirname": self.appenddirname,
            "appendfilename": self.appendfilename,
        }


def persistence_config(
    client: redis.Redis, label: str, user: str | None, rdb_path_option: Path | None, aof_enabled: bool | None
) -> PersistenceConfig:
    """Read ``dir``/``dbfilename`` (and the AOF names) with ``CONFIG GET``.

    Managed offerings often disable or rename ``CONFIG``; then ``--redis-rdb-path`` must say
    where the file is, and the AOF names fall back to the defaults at restore.
    """
    config: dict[str, str] = {}
    try:
        for name in ("dir", "dbfilename", "appenddirname", "appendfilename"):
            config.update({str(k): str(v) for k, v in client.config_get(name).items()})
    except (rexc.NoPermissionError, rexc.ResponseError) as error:
        if rdb_path_option is None:
            raise DatabaseError(
                f"{label}: CONFIG GET is not available to user {user or 'default'!r} ({' '.join(str(error).split())}); "
                "set --redis-rdb-path to the RDB file the server writes"
            ) from None
    if rdb_path_option is not None:
        path = rdb_path_option
    elif config.get("dir") and config.get("dbfilename"):
        path = Path(config["dir"]) / config["dbfilename"]
    else:
        raise DatabaseError(f"{label}: CONFIG GET dir/dbfilename returned nothing; set --redis-rdb-path")
    return PersistenceConfig(
        rdb_path=path,
        dbfilename=config.get("dbfilename") or path.name or DEFAULT_DBFILENAME,
        appendonly=aof_enabled,
        appenddirname=config.get("appenddirname") or None,
        appendfilename=config.get("appendfilename") or None,
    )
