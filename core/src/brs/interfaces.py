"""The driver contract: what a database, storage or compression plugin implements.

A plugin is a class registered under one of the entry-point groups ``brs.database``,
``brs.storage`` or ``brs.compression``. brs imports only the classes a run selects by name,
instantiates each with a :class:`PluginContext`, and registers the instance with its pluggy
plugin manager. Every method whose name starts with ``brs_`` is a hook implementation of the
hookspec of the same name in :mod:`brs.hookspecs`; the base classes below declare them so that
type checkers and readers see the whole contract in one place.

Exactly one driver per role is registered at a time, so each operation hook has exactly one
implementation. Other plugins may only *wrap* them (``@hookimpl(wrapper=True)``).
"""

from __future__ import annotations

import enum
import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar, Protocol

from brs.errors import DatabaseError, StorageError

if TYPE_CHECKING:
    import click

    from brs.archive import ArchiveReader, ArchiveWriter

__all__ = [
    "Compression",
    "Compressor",
    "DataDirState",
    "DataDirStatus",
    "Database",
    "Plugin",
    "PluginContext",
    "Role",
    "Storage",
    "StoredObject",
    "StoredVersion",
]


class Role(enum.StrEnum):
    """The three driver roles; the value is the entry-point group."""

    DATABASE = "brs.database"
    STORAGE = "brs.storage"
    COMPRESSION = "brs.compression"

    @property
    def label(self) -> str:
        return self.value.split(".", 1)[1]


class DataDirStatus(enum.StrEnum):
    """What a database plugin found in the data directory."""

    EMPTY = "empty"  #: nothing there (a lone ``lost+found`` counts as empty): restore
    HEALTHY = "healthy"  #: looks usable: start the database as it is
    CORRUPT = "corrupt"  #: unusable: move aside and restore


@dataclass(frozen=True)
class DataDirState:
    """Result of :meth:`Database.brs_database_check`."""

    status: DataDirStatus
    reason: str = ""

    @property
    def needs_restore(self) -> bool:
        return self.status is not DataDirStatus.HEALTHY


@dataclass(frozen=True)
class StoredObject:
    """One object as a storage provider lists it; ``name`` is relative to the object prefix."""

    name: str
    size: int
    modified: datetime


@dataclass(frozen=True)
class StoredVersion:
    """One object version written by backup-restore-sidecar, as a storage provider lists it.

    ``name`` is where the old tool put it (``3.tar.gz`` in the local provider path,
    ``prefix/db.tar.gz.aes`` in a bucket); ``version`` tells versions of one name apart and
    stays the same as long as the version exists (an S3 VersionId, a GCS generation).
    """

    name: str
    version: str
    size: int
    modified: datetime


@dataclass(frozen=True)
class PluginContext:
    """Everything a driver receives when brs instantiates it.

    :param name: the entry-point name it was selected by (one class may serve several names,
        e.g. ``redis`` and ``valkey``).
    :param options: values of the options the class declared in :meth:`Plugin.options`, keyed by
        the click parameter name (``postgres_host``), after flags, ``BRS_*`` variables and the
        config file were merged.
    :param data_dir: the database data directory (``--db-data-directory``), if set.
    :param object_prefix: the storage folder (``--object-prefix``), without slashes at the ends.
    :param log: a logger named after the plugin.
    """

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)
    data_dir: Path | None = None
    object_prefix: str = ""
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("brs.plugin"))


class Plugin(ABC):
    """Base of every driver class."""

    #: The role the class plays; set by the role base classes below.
    role: ClassVar[Role]

    def __init__(self, context: PluginContext) -> None:
        self.context = context
        self.log = context.log

    @classmethod
    def options(cls) -> Sequence[click.Option]:
        """Command-line options the driver understands, as click options.

        brs adds them to every command once the driver is selected; each one may also be set as
        ``BRS_<NAME>`` in the environment and as ``<name>`` in the config file. Use
        :func:`brs.options.secret_option` for passwords so that a ``--<name>-file`` twin exists.
        """
        return ()

    def option(self, name: str, default: Any = None) -> Any:
        """The value of one of :meth:`options` (``None``-valued options fall back to ``default``)."""
        value = self.context.options.get(name)
        return default if value is None else value


class Database(Plugin):
    """A database engine: dump it into an archive and restore an archive into a data directory."""

    role = Role.DATABASE
    #: Whether the engine runs a server that :meth:`brs_database_probe` reaches. A local
    #: ``brs restore`` refuses while that server answers (it would keep writing to the old
    #: files, or undo the restore at its next save); a plain directory has none.
    has_server: ClassVar[bool] = True

    @abstractmethod
    def brs_database_check(self, data_dir: Path) -> DataDirState:
        """Decide whether ``data_dir`` is empty, healthy or corrupt (never modifies it)."""

    @abstractmethod
    def brs_database_dump(self, archive: ArchiveWriter) -> None:
        """Write a consistent backup of the running database into ``archive``."""

    def backup_method(self) -> str | None:
        """The way :meth:`brs_database_dump` backs up under the current options (PostgreSQL:
        ``basebackup`` or ``dumpall``), recorded in the manifest as ``extra["method"]`` and
        shown by ``brs backups list``; None for an engine with one way (listed as its name)."""
        return None

    @abstractmethod
    def brs_database_restore(self, archive: ArchiveReader, target: Path) -> None:
        """Turn the archive of one backup into a complete data directory at ``target``."""

    def brs_database_restore_legacy(self, archive: ArchiveReader, target: Path) -> None:
        """Turn a backup of backup-restore-sidecar (members ``files/...``) into a data directory."""
        raise DatabaseError(f"the {self.context.name} plugin cannot restore backups of backup-restore-sidecar")

    def brs_database_version(self) -> str | None:
        """The running server's version for the manifest, or ``None`` when not applicable."""
        return None

    def brs_database_identity(self) -> str | None:
        """What identifies the database's data (e.g. ``postgres:<system identifier>``), or ``None``."""
        return None

    def brs_database_probe(self) -> bool:
        """Return ``True`` once the database answers requests."""
        return True

    def brs_database_upgrade(self, data_dir: Path) -> None:
        """Upgrade the data files in ``data_dir`` to the installed server version, if needed."""
        return None


class Storage(Plugin):
    """A place that stores objects under the configured prefix."""

    role = Role.STORAGE

    def location(self) -> str:
        """Where the backups are, for messages (``no backups in s3://bucket/prefix``)."""
        prefix = self.context.object_prefix.strip("/")
        return f"{self.context.name} storage" + (f", prefix {prefix}" if prefix else "")

    @abstractmethod
    def brs_storage_ensure(self) -> None:
        """Make sure the bucket or directory exists and is reachable."""

    @abstractmethod
    def brs_storage_upload(self, name: str, source: BinaryIO) -> int:
        """Store everything ``source`` yields as object ``name``, atomically."""

    @abstractmethod
    def brs_storage_download(self, name: str) -> BinaryIO:
        """Open object ``name`` for streaming reads."""

    @abstractmethod
    def brs_storage_list(self) -> list[StoredObject]:
        """List every object under the prefix."""

    @abstractmethod
    def brs_storage_delete(self, name: str) -> None:
        """Delete object ``name``; deleting a missing object is not an error."""

    def brs_storage_legacy_list(self) -> list[StoredVersion]:
        """Every backup version backup-restore-sidecar wrote where it kept them (none by default)."""
        return []

    def brs_storage_legacy_open(self, version: StoredVersion, offset: int) -> BinaryIO:
        """Open one listed old version for reading from byte ``offset``."""
        raise StorageError(f"the {self.context.name} storage plugin cannot read backups of backup-restore-sidecar")

    def brs_storage_legacy_delete(self, version: StoredVersion) -> None:
        """Delete one listed old version (only when a user names it)."""
        raise StorageError(f"the {self.context.name} storage plugin cannot delete backups of backup-restore-sidecar")


class Compressor(Protocol):
    """Incremental compressor returned by :meth:`Compression.brs_compression_compressor`."""

    def compress(self, data: bytes | memoryview) -> bytes: ...

    def flush(self) -> bytes: ...


class Compression(Plugin):
    """A compression method for the tar stream."""

    role = Role.COMPRESSION

    #: Object-name suffix, e.g. ``".tar.zst"``.
    suffix: ClassVar[str]

    @abstractmethod
    def brs_compression_compressor(self) -> Compressor:
        """Return a fresh incremental compressor."""

    @abstractmethod
    def brs_compression_decompress(self, source: BinaryIO) -> BinaryIO:
        """Wrap ``source`` (compressed bytes) in a reader that yields the plain bytes."""
