"""``--backup-provider local``: a directory, typically on its own persistent volume."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, UTC
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, ClassVar

from brs.errors import BackupNotFound, ConfigError, StorageError
from brs.interfaces import Storage, StoredObject, StoredVersion
from brs.kit.objects import check_object_name
from brs.legacy.naming import is_local_name
from brs.options import PluginOptions, option
from brs.syncbehind import SyncBehind

if TYPE_CHECKING:
    from brs.interfaces import PluginContext

__all__ = ["LocalStorage", "LocalStorageOptions"]

DEFAULT_PATH = "/backup/local-provider"
_TEMP_MARK = ".brs-upload-"
#: Most bytes asked for per read of an upload. Above a sealed piece (256 KiB and a 16-byte tag):
#: a read of exactly 256 KiB split every piece in two, copying it and doubling the hash updates
#: and writes (a tenth of a backup's interpreter time); now each read is one whole piece, uncopied.
_BLOCK = 1 << 20
#: Bytes written before they are handed to the disk (see _start_writeback).
_WRITEBACK = 8 << 20


@dataclass(frozen=True)
class LocalStorageOptions(PluginOptions):
    """Options of ``--backup-provider local``."""

    prefix: ClassVar[str] = "local-provider"

    backup_path: Path = option(Path(DEFAULT_PATH), "Directory of the local backup provider.")


class LocalStorage(Storage[LocalStorageOptions]):
    """Objects are files below ``--local-provider-backup-path``/``--object-prefix``.

    Uploads go to a hidden temporary file that is fsynced and renamed into place, so a crash
    never leaves a partial object under its final name. The uploader holds an ``flock`` on it,
    so :meth:`ensure` removes exactly the temporary files whose writer died.
    """

    Options = LocalStorageOptions

    def __init__(self, context: PluginContext[LocalStorageOptions]) -> None:
        super().__init__(context)
        base = self.settings.backup_path
        self.base = base
        self.root = base / _checked_prefix(context.object_prefix) if context.object_prefix else base

    def location(self) -> str:
        return str(self.root)

    def _path(self, name: str) -> Path:
        return self.root / check_object_name(name)

    def ensure(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f"{_TEMP_MARK}probe-{_token()}"
            probe.write_bytes(b"")
            probe.unlink()
            self.remove_stale_uploads()
        except OSError as error:
            raise StorageError(f"local backup path {self.root} is not usable: {error.strerror or error}") from error

    def upload(self, name: str, source: BinaryIO) -> int:
        final = self._path(name)
        temporary = self.root / f"{_TEMP_MARK}{name}-{_token()}"
        written = 0
        try:
            with open(temporary, "wb") as out:
                fcntl.flock(out.fileno(), fcntl.LOCK_EX)  # "in use" for remove_stale_uploads
                handed_off = 0
                with SyncBehind(partial(os.fdatasync, out.fileno())) as syncing:
                    while piece := source.read(_BLOCK):
                        out.write(piece)
                        written += len(piece)
                        if written - handed_off >= _WRITEBACK:
                            out.flush()
                            _start_writeback(out.fileno(), handed_off, written - handed_off)
                            syncing.wrote(written - handed_off)
                            handed_off = written
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, final)
            _fsync_dir(self.root)
        except OSError as error:
            temporary.unlink(missing_ok=True)
            raise StorageError(f"cannot write {final}: {error.strerror or error}") from error
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return written

    def download(self, name: str) -> BinaryIO:
        path = self._path(name)
        try:
            return open(path, "rb")
        except FileNotFoundError as error:
            raise BackupNotFound(f"object {name} does not exist in {self.root}") from error
        except OSError as error:
            raise StorageError(f"cannot read {path}: {error.strerror or error}") from error

    def list(self) -> Sequence[StoredObject]:
        objects = []
        for entry in _entries(self.root):
            if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
                continue
            info = entry.stat(follow_symlinks=False)
            modified = datetime.fromtimestamp(info.st_mtime, tz=UTC)
            objects.append(StoredObject(name=entry.name, size=info.st_size, modified=modified))
        return objects

    def delete(self, name: str) -> None:
        try:
            self._path(name).unlink(missing_ok=True)
        except OSError as error:
            raise StorageError(f"cannot delete {self._path(name)}: {error.strerror or error}") from error

    def legacy_list(self) -> Sequence[StoredVersion]:
        """The old tool's ``<n>.tar[.gz|.lz4][.aes]`` files, directly in the provider path.

        It ignored ``--object-prefix`` here. Its names rotate, so a version is the name plus
        the modification time: stable until the old tool overwrites that file.
        """
        versions = []
        for entry in _entries(self.base):
            if not is_local_name(entry.name) or not entry.is_file(follow_symlinks=False):
                continue
            info = entry.stat(follow_symlinks=False)
            versions.append(
                StoredVersion(
                    name=entry.name,
                    version=_local_version(entry.name, info.st_mtime_ns),
                    size=info.st_size,
                    modified=datetime.fromtimestamp(info.st_mtime, tz=UTC),
                )
            )
        return versions

    def legacy_open(self, version: StoredVersion, offset: int) -> BinaryIO:
        path = self._legacy_path(version)
        try:
            handle = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
        except FileNotFoundError as error:
            raise BackupNotFound(f"old backup {version.name} does not exist in {self.base}") from error
        except OSError as error:
            raise StorageError(f"cannot read {path}: {error.strerror or error}") from error
        if _local_version(version.name, os.fstat(handle.fileno()).st_mtime_ns) != version.version:
            handle.close()
            raise BackupNotFound(f"old backup {version.name} in {self.base} was overwritten since it was listed")
        handle.seek(offset)
        return handle

    def legacy_delete(self, version: StoredVersion) -> None:
        path = self._legacy_path(version)
        try:
            if _local_version(version.name, path.stat().st_mtime_ns) != version.version:
                raise StorageError(f"old backup {version.name} in {self.base} was overwritten since it was listed; not deleted")
            path.unlink()
        except FileNotFoundError:
            return
        except OSError as error:
            raise StorageError(f"cannot delete {path}: {error.strerror or error}") from error

    def _legacy_path(self, version: StoredVersion) -> Path:
        if not is_local_name(version.name):
            raise StorageError(f"invalid old object name {version.name!r}")
        return self.base / version.name

    def remove_stale_uploads(self) -> int:
        """Remove temporary files of uploads that were killed: those no live uploader holds locked."""
        removed = 0
        for entry in os.scandir(self.root) if self.root.is_dir() else ():
            if not entry.name.startswith(_TEMP_MARK):
                continue
            with contextlib.suppress(FileNotFoundError), open(entry.path, "rb") as handle:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # an upload in progress
                Path(entry.path).unlink(missing_ok=True)
                removed += 1
        return removed


def _token() -> str:
    import secrets  # hmac and OpenSSL come with it; a listing needs neither

    return secrets.token_hex(4)


def _entries(directory: Path) -> list[os.DirEntry[str]]:
    """The entries of ``directory``; none when it does not exist yet."""
    try:
        return list(os.scandir(directory))
    except FileNotFoundError:
        return []
    except OSError as error:
        raise StorageError(f"cannot list {directory}: {error.strerror or error}") from error


def _local_version(name: str, mtime_ns: int) -> str:
    """``20261126T120000.123456Z-3``: when the file was written, then its rotating number."""
    moment = datetime.fromtimestamp(mtime_ns / 1e9, tz=UTC)
    return f"{moment:%Y%m%dT%H%M%S.%f}Z-{name.split('.', 1)[0]}"


def _checked_prefix(prefix: str) -> str:
    """``prefix`` when it names a folder below the backup path; ``..``, ``.`` or empty parts are refused."""
    parts = prefix.split("/")
    if prefix.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise ConfigError(
            f"--object-prefix {prefix!r} must be a relative folder name without '..', '.' or empty parts "
            "(the local provider never writes outside --local-provider-backup-path)"
        )
    return prefix


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _start_writeback(fd: int, offset: int, length: int) -> None:
    """Start writing a range of the object to disk now, and keep it out of the page cache.

    On Linux, ``POSIX_FADV_DONTNEED`` starts writeback of the range's dirty pages and drops the
    clean ones (the call Python offers; ``sync_file_range`` it does not). The final ``fsync``
    has less left to wait for (with :class:`brs.syncbehind.SyncBehind`, which makes it durable
    on a virtual disk too), and a backup does not push the database's own data out of the page cache.
    """
    os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)
