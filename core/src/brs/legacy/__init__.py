"""Backups of backup-restore-sidecar, the tool brs replaces: listed, verified and restored, never written.

That tool stored a tar archive of ``files/...`` members, optionally gzip or lz4 compressed and
AES-256-CTR encrypted with the IV at the end, under names that say nothing but the method
(:mod:`brs.legacy.naming`). Storage plugins list and open those objects
(``legacy_*`` hooks); database plugins restore their layout
(``restore_legacy``); this package decrypts and decompresses in between.
"""

from brs.legacy.backups import FORMAT, ROOT, SCHEME, LegacyBackup, list_legacy, read_legacy

__all__ = ["FORMAT", "ROOT", "SCHEME", "LegacyBackup", "list_legacy", "read_legacy"]
