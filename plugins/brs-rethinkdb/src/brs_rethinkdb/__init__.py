"""brs database plugin ``rethinkdb``: backups with the driver's dump tool, restores through a temporary server."""

from __future__ import annotations

from brs_rethinkdb.plugin import RethinkDB

__all__ = ["RethinkDB"]
