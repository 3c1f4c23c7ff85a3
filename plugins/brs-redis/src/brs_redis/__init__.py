"""brs database plugin for Redis and its protocol-compatible forks (Valkey, KeyDB).

A backup is the RDB snapshot the server writes with ``BGSAVE``; a restore puts that RDB back
into a data directory (and, for servers that run with ``appendonly yes``, an append-only-file
manifest whose base is the same RDB, so the restored data is what the server loads).
"""

from __future__ import annotations

from brs_redis.errors import BackupSkipped
from brs_redis.plugin import Redis

__all__ = ["BackupSkipped", "Redis"]
