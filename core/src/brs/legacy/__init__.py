"""Backups of backup-restore-sidecar, the tool brs replaces: listed, verified and restored, never written.

That tool stored a tar archive of ``files/...`` members, optionally gzip or lz4 compressed and
AES-256-CTR encrypted with the IV at the end, under names that say nothing but the method
(:mod:`brs.legacy.naming`). Storage plugins list and open those objects
(``legacy_*`` hooks); database plugins restore their layout
(``restore_legacy``); this package decrypts and decompresses in between.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FORMAT", "ROOT", "SCHEME", "LegacyBackup", "list_legacy", "read_legacy"]

#: How listings name the format of these backups.
FORMAT = "backup-restore-sidecar"
#: Every archive member of an old backup lives below this folder.
ROOT = "files/"
#: The old encryption, as recorded in :attr:`LegacyBackup.encryption`.
SCHEME = "aes-256-ctr (backup-restore-sidecar)"

_READING = ("LegacyBackup", "list_legacy", "read_legacy")


def __getattr__(name: str) -> Any:
    # The reading side pulls in the crypto and pipeline modules; every command reads the old
    # configuration through brs.legacy.config, and most never touch an old backup (PEP 562).
    if name in _READING:
        from brs.legacy import backups

        return getattr(backups, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
