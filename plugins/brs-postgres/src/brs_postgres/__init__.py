"""brs database plugin ``postgres``."""

from __future__ import annotations

from brs_postgres.plugin import Postgres

__all__ = ["Postgres"]
