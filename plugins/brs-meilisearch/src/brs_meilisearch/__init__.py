"""brs database plugin ``meilisearch``: dumps API backups, dump-import restores, version upgrades."""

from __future__ import annotations

from brs_meilisearch.plugin import Meilisearch

__all__ = ["Meilisearch"]
