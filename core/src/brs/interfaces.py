"""The driver contract: what a database, storage or compression plugin implements.

A plugin is a class registered under one of the entry-point groups ``brs.database``,
``brs.storage`` or ``brs.compression``. brs imports only the classes a run selects by name and
instantiates each with a :class:`PluginContext` that carries the plugin's own options (declared
once, as a :class:`~brs.options.PluginOptions` dataclass named by :attr:`Plugin.Options`).

These base classes are the whole driver contract: one driver per role, and the engine calls its
methods directly (mypy checks every call). What is really one-to-many, such as notifications
about backups and restores, is a pluggy hook in :mod:`brs.hookspecs` instead.
"""

from __future__ import annotations

import enum
import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
import functools
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar, Generic, Protocol, TypeVar

from brs.errors import BrsError, ConfigError, DatabaseError, StorageError
from brs.options import NoOptions, PluginOptions

if TYPE_CHECKING:
    from brs.archive import ArchiveReader, ArchiveWriter

__all__ = [
    "Compression",
    "Compressor",
    "DataDirState",
    "DataDirStatus",
    "Database",
    "NoOptions",
    "Plugin",
    "PluginContext",
    "PluginOptions",
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
    """Result of :meth:`Database.check`."""

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


OptionsT = TypeVar("OptionsT", bound=PluginOptions)


@dataclass(frozen=True)
class PluginContext(Generic[OptionsT]):
    """Everything a driver receives when brs instantiates it.

    :param name: the entry-point name it was selected by (one class may serve several names,
        e.g. ``redis`` and ``valkey``).
    :param settings: the plugin's own options, validated (flags, ``BRS_*`` variables and the
        config file merged). A driver sees nothing else: no other plugin's options, no key.
    :param data_dir: the database data directory (``--db-data-directory``), if set.
    :param object_prefix: the storage folder (``--object-prefix``), without slashes at the ends.
    :param log: a logger named after the plugin.
    """

    name: str
    settings: OptionsT
    data_dir: Path | None = None
    object_prefix: str = ""
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("brs.plugin"))


#: Every operation of the contract; a bug (not a :class:`~brs.errors.BrsError`) escaping one is
#: annotated with the plugin that raised it.
CONTRACT_METHODS = frozenset(
    {
        "check", "dump", "restore", "restore_legacy", "version", "identity", "probe", "upgrade", "backup_method",
        "ensure", "upload", "download", "list", "delete", "legacy_list", "legacy_open", "legacy_delete", "location",
        "compressor", "decompress",
    }
)  # fmt: skip


def _blamed(method: Any) -> Any:
    @functools.wraps(method)
    def call(self: Plugin[Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except BrsError:
            raise
        except Exception as error:
            if not any(note.startswith("raised by ") for note in getattr(error, "__notes__", ())):
                from brs.plugins import distribution_of  # the contract does not need discovery otherwise

                dist, version = distribution_of(self.role.value, self.context.name)
                label = self.role.label
                error.add_note(f"raised by {label} plugin {self.context.name!r} ({dist} {version}) in {method.__name__}")
            raise

    call.__brs_blamed__ = True  # type: ignore[attr-defined]
    return call


class Plugin(ABC, Generic[OptionsT]):
    """Base of every driver class.

    Subclass one of :class:`Database`, :class:`Storage` or :class:`Compression`, parametrised
    with the options class (``class Postgres(Database[PostgresOptions])``), and set
    :attr:`Options` to the same class so that brs can derive the command-line options from it.
    """

    #: The role the class plays; set by the role base classes below.
    role: ClassVar[Role]
    #: The plugin's options (:mod:`brs.options`); :class:`~brs.options.NoOptions` when it has none.
    Options: ClassVar[type[PluginOptions]] = NoOptions

    def __init__(self, context: PluginContext[OptionsT]) -> None:
        self.context = context
        #: The plugin's own validated options.
        self.settings: OptionsT = context.settings
        self.log = context.log

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in CONTRACT_METHODS & set(vars(cls)):
            method = vars(cls)[name]
            if callable(method) and not getattr(method, "__brs_blamed__", False):
                setattr(cls, name, _blamed(method))


class Database(Plugin[OptionsT]):
    """A database engine: dump it into an archive and restore an archive into a data directory."""

    role = Role.DATABASE
    #: Whether the engine runs a server that :meth:`probe` reaches. A local ``brs restore``
    #: refuses while that server answers (it would keep writing to the old files, or undo the
    #: restore at its next save); a plain directory has none.
    has_server: ClassVar[bool] = True

    @abstractmethod
    def check(self, data_dir: Path) -> DataDirState:
        """Decide whether ``data_dir`` is empty, healthy or corrupt (never modifies it)."""

    @abstractmethod
    def dump(self, archive: ArchiveWriter) -> None:
        """Write a consistent backup of the running database into ``archive``.

        Memory must stay bounded whatever the database's size: stream into ``archive``.
        """

    def backup_method(self) -> str | None:
        """The way :meth:`dump` backs up under the current options (PostgreSQL: ``basebackup``
        or ``dumpall``), recorded in the manifest as ``extra["method"]`` and shown by
        ``brs backups list``; None for an engine with one way (listed as its name)."""
        return None

    @abstractmethod
    def restore(self, archive: ArchiveReader, target: Path) -> None:
        """Turn the archive of one backup into a complete data directory at ``target``.

        ``target`` is an empty staging directory; brs swaps it into place only afterwards.
        """

    def restore_legacy(self, archive: ArchiveReader, target: Path) -> None:
        """Turn a backup of backup-restore-sidecar (members ``files/...``) into a data directory."""
        raise DatabaseError(f"the {self.context.name} plugin cannot restore backups of backup-restore-sidecar")

    def version(self) -> str | None:
        """The running server's version for the manifest, or ``None`` when not applicable."""
        return None

    def identity(self) -> str | None:
        """What identifies the database's data (e.g. ``postgres:<system identifier>``), or ``None``."""
        return None

    def probe(self) -> bool:
        """Return ``True`` once the database answers requests, ``False`` while it does not."""
        return True

    def upgrade(self, data_dir: Path) -> None:
        """Upgrade the data files in ``data_dir`` to the installed server version, if needed."""
        return None


class Storage(Plugin[OptionsT]):
    """A place that stores objects under the configured prefix.

    Object names are single path components (:func:`brs.kit.objects.check_object_name`); the driver
    puts them below :attr:`PluginContext.object_prefix`.
    """

    role = Role.STORAGE

    def location(self) -> str:
        """Where the backups are, for messages (``no backups in s3://bucket/prefix``)."""
        prefix = self.context.object_prefix.strip("/")
        return f"{self.context.name} storage" + (f", prefix {prefix}" if prefix else "")

    @abstractmethod
    def ensure(self) -> None:
        """Make sure the bucket or directory exists and is reachable."""

    @abstractmethod
    def upload(self, name: str, source: BinaryIO) -> int:
        """Store everything ``source`` yields as object ``name``, atomically; return its size.

        Read ``source`` in bounded pieces: a backup may be larger than memory.
        """

    @abstractmethod
    def download(self, name: str) -> BinaryIO:
        """Open object ``name`` for streaming reads (:class:`~brs.errors.BackupNotFound` if missing)."""

    @abstractmethod
    def list(self) -> Sequence[StoredObject]:
        """List every object under the prefix."""

    @abstractmethod
    def delete(self, name: str) -> None:
        """Delete object ``name``; deleting a missing object is not an error."""

    def legacy_list(self) -> Sequence[StoredVersion]:
        """Every backup version backup-restore-sidecar wrote where it kept them (none by default)."""
        return []

    def legacy_open(self, version: StoredVersion, offset: int) -> BinaryIO:
        """Open one listed old version for reading from byte ``offset``."""
        raise StorageError(f"the {self.context.name} storage plugin cannot read backups of backup-restore-sidecar")

    def legacy_delete(self, version: StoredVersion) -> None:
        """Delete one listed old version (only when a user names it)."""
        raise StorageError(f"the {self.context.name} storage plugin cannot delete backups of backup-restore-sidecar")


class Compressor(Protocol):
    """Incremental compressor returned by :meth:`Compression.compressor`."""

    def compress(self, data: bytes | memoryview) -> bytes: ...

    def flush(self) -> bytes: ...


class Compression(Plugin[NoOptions]):
    """A compression method for the tar stream."""

    role = Role.COMPRESSION

    #: Object-name suffix, e.g. ``".tar.zst"``.
    suffix: ClassVar[str]
    #: Bytes of tar stream per self-contained frame (:meth:`compress_frame`); 0 when the method
    #: can only stream through :meth:`compressor`.
    frame_size: ClassVar[int] = 0
    #: The levels (lowest, highest) ``--compression-level`` may choose, or ``None`` when the
    #: method has none. Levels change the stored size and the CPU a backup takes, never how a
    #: backup is read.
    levels: ClassVar[tuple[int, int] | None] = None
    #: The level new backups use (the method's default until :meth:`use_level`); read it in
    #: :meth:`compressor` and :meth:`compress_frame`.
    level: int = 0

    def use_level(self, level: int) -> None:
        """Compress at ``level`` from now on (``--compression-level``).

        Raises:
            ConfigError: the method has no levels, or not this one.
        """
        if self.levels is None:
            raise ConfigError(f"--compression-level: {self.context.name} has no compression levels")
        low, high = self.levels
        if not low <= level <= high:
            raise ConfigError(f"--compression-level {level}: {self.context.name} takes {low} to {high}")
        self.level = level

    @abstractmethod
    def compressor(self) -> Compressor:
        """Return a fresh incremental compressor."""

    @abstractmethod
    def decompress(self, source: BinaryIO) -> BinaryIO:
        """Wrap ``source`` (compressed bytes) in a reader that yields the plain bytes.

        When :attr:`frame_size` is set the stream is a series of concatenated frames.
        """

    def compress_frame(self, data: bytes) -> bytes:
        """Compress ``data`` (at most :attr:`frame_size` bytes) into one self-contained frame.

        Used instead of :meth:`compressor` when :attr:`frame_size` is set: the engine compresses
        consecutive frames on several threads at once and stores them concatenated, so the call
        must be thread-safe and should release the GIL while it works (the codecs' C calls do).
        The engine refills ``data``'s buffer once the call has returned: keep no reference to it
        (returning ``data`` itself is fine: then it is not reused).
        """
        raise NotImplementedError(f"{type(self).__name__} does not compress frames")

    def frame_length(self, buffer: bytes | bytearray | memoryview) -> int | None:
        """Bytes of the complete frame at the start of ``buffer``, or ``None``.

        ``None`` when ``buffer`` holds no complete frame yet, when the frame there would hold
        more than :attr:`frame_size` bytes, or when it is no frame of this method (a stream
        written some other way). With this and :meth:`decompress_frame`, a restore decompresses
        consecutive frames on several threads; from the first place where this keeps saying
        ``None`` (a stretch of about :attr:`frame_size` bytes, or the end of the stream), the
        rest goes through :meth:`decompress`. The default always says ``None``: the whole stream
        goes through :meth:`decompress`. Only reads the frame's headers: the data is untrusted.
        ``buffer`` is often a memoryview of a piece of the stream (frames are not copied to be
        measured).
        """
        return None

    def decompress_frame(self, frame: bytes | memoryview) -> bytes:
        """The content of one frame that :meth:`frame_length` delimited (at most
        :attr:`frame_size` bytes); raises :class:`brs.errors.IntegrityError` for a damaged one.
        ``frame`` is bytes or a memoryview of a piece of the stream (not copied out of it).

        Runs on several threads at once: thread-safe, and should release the GIL while it works.
        """
        raise NotImplementedError(f"{type(self).__name__} does not decompress frames")
