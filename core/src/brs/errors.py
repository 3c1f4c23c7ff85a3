"""Expected failures.

Everything a user can cause or fix (bad flags, a wrong key, an unreachable server, a damaged
backup) raises a :class:`BrsError` subclass. The CLI prints such an error as one line and exits
with the class's :attr:`~BrsError.exit_code`, so that scripts can tell the failures apart (the
table is :data:`EXIT_CODES`). Anything else escaping a command is a bug and keeps its traceback
(exit 3). Plugins raise these types too, never ``SystemExit`` or click exceptions.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "EXIT_CODES",
    "ArchiveError",
    "BackupNotFound",
    "BackupSkipped",
    "BrsError",
    "BusyError",
    "ConfigError",
    "DatabaseError",
    "DatabaseRunning",
    "DecryptionError",
    "IntegrityError",
    "KeyMissing",
    "LocalIOError",
    "PluginError",
    "StorageError",
    "UnknownPlugin",
]


class BrsError(Exception):
    """Base of every expected failure; its message is shown to the user as one line."""

    #: The CLI's exit status for this failure (see :data:`EXIT_CODES`).
    exit_code: ClassVar[int] = 1


class ConfigError(BrsError):
    """A setting is missing, malformed or contradicts another one."""

    exit_code = 2


class PluginError(BrsError):
    """A plugin is not installed, cannot be loaded, or broke its contract."""


class UnknownPlugin(PluginError):
    """No installed plugin has the name given (a typo in ``--db`` or ``--backup-provider``)."""

    exit_code = 2


class StorageError(BrsError):
    """The storage provider refused or failed an operation."""

    exit_code = 7


class BackupNotFound(BrsError):
    """No backup matches the requested version."""

    exit_code = 4


class IntegrityError(BrsError):
    """A stored backup does not match its manifest (size, checksum, member count)."""

    exit_code = 5


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

    exit_code = 8


class BackupSkipped(BrsError):
    """The database declined to be backed up this time (e.g. it is a replica).

    Nothing is uploaded, and the attempt counts neither as a success nor as a failure.
    """


class KeyMissing(DecryptionError):
    """No configured key opens the backup: it names a key id that is not configured, or needs a key
    and none is set. The backup itself may be intact."""

    exit_code = 6


class DatabaseRunning(BusyError):
    """The database server answers on the data directory, so a local restore would be undone by it."""

    exit_code = 9


#: Exit statuses of the CLI, documented in the README and docs/cli.md (a test keeps them in step).
EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "any other failure (database, plugin, local disk)",
    2: "usage: unknown command, option or config key, bad or missing setting",
    3: "internal error (a bug: the traceback is printed)",
    4: "backup not found (unknown version, or no backups at all)",
    5: "backup damaged (checksum, authentication, size or archive check failed)",
    6: "wrong or missing key (no configured key opens the backup)",
    7: "storage unreachable or refusing (network, credentials, bucket)",
    8: "busy (another backup, restore or retention holds the lock; the sidecar is busy)",
    9: "database running (a local restore under a running server is refused)",
    10: "sidecar unreachable (--server)",
    130: "interrupted",
}
