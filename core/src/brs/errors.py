"""Expected failures.

Everything a user can cause or fix (bad flags, a wrong key, an unreachable server, a damaged
backup) raises a :class:`BrsError` subclass. The CLI prints such an error as one line and exits 1.
Anything else escaping a command is a bug and keeps its traceback (exit 3). Plugins raise these
types too, never ``SystemExit`` or click exceptions.
"""

from __future__ import annotations

__all__ = [
    "ArchiveError",
    "BackupNotFound",
    "BackupSkipped",
    "BrsError",
    "BusyError",
    "ConfigError",
    "DatabaseError",
    "DecryptionError",
    "IntegrityError",
    "LocalIOError",
    "PluginError",
    "StorageError",
]


class BrsError(Exception):
    """Base of every expected failure; its message is shown to the user as one line."""


class ConfigError(BrsError):
    """A setting is missing, malformed or contradicts another one."""


class PluginError(BrsError):
    """A plugin is not installed, cannot be loaded, or broke its contract."""


class StorageError(BrsError):
    """The storage provider refused or failed an operation."""


class BackupNotFound(BrsError):
    """No backup matches the requested version."""


class IntegrityError(BrsError):
    """A stored backup does not match its manifest (size, checksum, member count)."""


class DecryptionError(IntegrityError):
    """An encrypted object cannot be authenticated: wrong key, tampered or truncated."""


class ArchiveError(IntegrityError):
    """The archive inside a backup is malformed or unsafe to extract."""


class LocalIOError(BrsError):
    """This machine's file system failed (disk full, permission, read-only, I/O error).

    Never a property of the backup: a restore that meets it stops instead of falling back to an
    older backup, which would silently roll the database back.
    """


class DatabaseError(BrsError):
    """The database refused or failed a dump, a restore or a probe."""


class BusyError(BrsError):
    """Another backup, restore or retention run holds the data directory (this or another process)."""


class BackupSkipped(BrsError):
    """The database declined to be backed up this time (e.g. it is a replica).

    Nothing is uploaded, and the attempt counts neither as a success nor as a failure.
    """
