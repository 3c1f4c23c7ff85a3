"""Defaults of core's settings, each in one place (the CLI, the engine and the docs read them here)."""

from __future__ import annotations

from typing import Final

__all__ = ["COMPRESSION", "KEEP_LAST", "STORAGE"]

#: ``--backup-provider``: the storage plugin when none is named.
STORAGE: Final = "local"
#: ``--compression-method``: the method new backups use when none is named.
COMPRESSION: Final = "targz"
#: Backups kept when no ``--keep-*`` rule is set.
KEEP_LAST: Final = 20
