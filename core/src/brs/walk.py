"""Reading a file or a directory tree for a backup, one directory descriptor at a time.

Every name is opened relative to its parent directory's descriptor (``openat``), so a tree
deeper than PATH_MAX is read like any other, and a directory renamed during the walk cannot
lead it outside the tree. A backup that succeeds must restore, so what the walk meets is:

- the root: followed when it is a symlink (data directories often are one); nothing below it
  is followed;
- regular files, directories and symlinks: added; a file with several names inside the tree
  is added once, its other names become hard links to the first;
- FIFOs, sockets and device files: skipped with one warning each (they hold no data, and a
  restore refuses them);
- a name that disappears or changes its type between listing and reading: skipped with a
  warning (the backup shows the tree without it); names that appear are taken when their
  directory is listed;
- a file that shrinks while it is read: padded with zeros to the size in its header, with a
  warning; a file that grows is cut at that size;
- anything that exists but cannot be read (permission denied, I/O error): the backup fails
  with one line naming the path, because a backup that silently misses a file is worse than
  none.
"""

from __future__ import annotations

import errno
import grp
import logging
import os
import pwd
import stat
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from brs.errors import LocalIOError

__all__ = ["Found", "walk"]

log = logging.getLogger("brs.archive")

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO put in a file's place between listing and opening must not block the walk.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
#: errno values that mean "this name is gone or is no longer what was listed".
_CHANGED = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)
#: A name's type as its directory listing gives it (see _Walk._listing).
_FILE, _DIRECTORY, _OTHER = "f", "d", "?"


@dataclass
class Found:
    """One member to add: its header and, for a regular file, exactly ``info.size`` bytes."""

    info: tarfile.TarInfo
    content: _PaddedFile | None = None


def walk(root: Path, arcname: str, exclude: Callable[[str], bool] | None = None) -> Iterator[Found]:
    """The members for ``root`` stored as ``arcname``, directories before their content.

    :param exclude: called with each member name below ``arcname``; True leaves it out.
    """
    return _Walk(root, exclude).members(arcname)


class _Walk:
    def __init__(self, root: Path, exclude: Callable[[str], bool] | None) -> None:
        self.root = root
        self.exclude = exclude
        # First name of each file with several links; only these need remembering.
        self._linked: dict[tuple[int, int], str] = {}
        self._names: dict[tuple[str, int], str] = {}

    def members(self, arcname: str) -> Iterator[Found]:
        try:
            fd = os.open(self.root, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # follows a symlinked root
        except OSError as error:
            raise self._unreadable(self.root, error) from None
        info = os.fstat(fd)
        if stat.S_ISREG(info.st_mode):
            try:
                content = _PaddedFile(fd, info.st_size, self.root)
                yield Found(self._header(arcname, info, tarfile.REGTYPE), content)
                _warn_if_shrunk(self.root, content)
            finally:
                os.close(fd)
            return
        if not stat.S_ISDIR(info.st_mode):
            os.close(fd)
            raise LocalIOError(f"cannot back up {self.root}: it is neither a directory nor a regular file")
        yield Found(self._header(arcname, info, tarfile.DIRTYPE))
        yield from self._tree(fd, arcname)

    def _tree(self, root_fd: int, arcname: str) -> Iterator[Found]:
        # An explicit stack: no recursion limit for deep trees. Each level holds its directory's
        # descriptor and sorted names.
        stack: list[tuple[int, str, Path, Iterator[str]]] = []
        try:
            stack.append((root_fd, arcname, self.root, self._listing(root_fd, self.root)))
            while stack:
                directory, prefix, path, names = stack[-1]
                listed = next(names, None)
                if listed is None:
                    os.close(directory)
                    stack.pop()
                    continue
                kind, name = listed[0], listed[1:]
                member = f"{prefix}/{name}" if prefix not in ("", ".") else name
                if self.exclude is not None and self.exclude(member):
                    continue
                child = path / name
                # Directories and regular files go by the listing's type, without an lstat
                # each (every system call is a round trip of the interpreter's lock): their
                # open refuses symlinks, and the fstat after it gives the header.
                if kind == _FILE:
                    yield from self._file(directory, name, child, member)
                    continue
                if kind == _DIRECTORY:
                    opened = self._open(directory, name, child, _DIR_FLAGS)
                    if opened is None:
                        continue
                    try:
                        listing = self._listing(opened, child)
                        yield Found(self._header(member, os.fstat(opened), tarfile.DIRTYPE))
                    except BaseException:
                        os.close(opened)
                        raise
                    stack.append((opened, member, child, listing))
                    continue
                # Symlinks, special files, and names the listing gave no type for.
                try:
                    info = os.stat(name, dir_fd=directory, follow_symlinks=False)
                except OSError as error:
                    self._vanished_or_refuse(child, error)
                    continue
                if stat.S_ISLNK(info.st_mode):
                    try:
                        target = os.readlink(name, dir_fd=directory)
                    except OSError as error:
                        self._vanished_or_refuse(child, error, also=(errno.EINVAL,))
                        continue
                    header = self._header(member, info, tarfile.SYMTYPE)
                    header.linkname = target
                    yield Found(header)
                elif stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode):  # not what was listed
                    log.warning("skipped %s: it changed or disappeared during the backup", child)
                else:
                    log.warning("skipped %s: a %s holds no data a restore could use", child, _kind(info.st_mode))
        finally:
            for directory, *_ in stack:
                os.close(directory)

    def _file(self, directory: int, name: str, path: Path, member: str) -> Iterator[Found]:
        fd = self._open(directory, name, path, _FILE_FLAGS)
        if fd is None:
            return
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                log.warning("skipped %s: it was replaced by a %s during the backup", path, _kind(info.st_mode))
                return
            key = (info.st_dev, info.st_ino)
            first = self._linked.get(key) if info.st_nlink > 1 else None
            if first is not None:
                header = self._header(member, info, tarfile.LNKTYPE)
                header.linkname = first
                yield Found(header)
                return
            content = _PaddedFile(fd, info.st_size, path)
            yield Found(self._header(member, info, tarfile.REGTYPE), content)
            _warn_if_shrunk(path, content)
            if info.st_nlink > 1:
                self._linked[key] = member  # only once it is in the archive
        finally:
            os.close(fd)

    def _listing(self, fd: int, path: Path) -> Iterator[str]:
        """The directory's names in sorted order, each behind one character for its type
        (:data:`_FILE`, :data:`_DIRECTORY` or :data:`_OTHER`): a tuple per name would double
        the memory of a directory with a million names."""
        try:
            with os.scandir(fd) as entries:
                names = [_listed_kind(entry) + entry.name for entry in entries]
        except OSError as error:
            raise self._unreadable(path, error) from None
        names.sort(key=_without_kind)
        return iter(names)

    def _open(self, directory: int, name: str, path: Path, flags: int) -> int | None:
        try:
            return os.open(name, flags, dir_fd=directory)
        except OSError as error:
            self._vanished_or_refuse(path, error)
            return None

    def _vanished_or_refuse(self, path: Path, error: OSError, also: tuple[int, ...] = ()) -> None:
        if error.errno in _CHANGED or error.errno in also:
            log.warning("skipped %s: it changed or disappeared during the backup", path)
            return
        raise self._unreadable(path, error) from None

    @staticmethod
    def _unreadable(path: Path, error: OSError) -> LocalIOError:
        return LocalIOError(f"cannot back up {path}: {error.strerror or error}; a backup without it would be incomplete")

    def _header(self, name: str, info: os.stat_result, kind: bytes) -> tarfile.TarInfo:
        header = tarfile.TarInfo(name)
        header.type = kind
        header.mode = stat.S_IMODE(info.st_mode)
        header.uid, header.gid = info.st_uid, info.st_gid
        header.uname, header.gname = self._owner("u", info.st_uid), self._owner("g", info.st_gid)
        header.size = info.st_size if kind == tarfile.REGTYPE else 0
        header.mtime = info.st_mtime
        return header

    def _owner(self, kind: str, number: int) -> str:
        key = (kind, number)
        name = self._names.get(key)
        if name is None:
            try:
                name = pwd.getpwuid(number).pw_name if kind == "u" else grp.getgrgid(number).gr_name
            except KeyError:
                name = ""
            self._names[key] = name
        return name


def _listed_kind(entry: os.DirEntry[str]) -> str:
    """The entry's type from the listing (an lstat only where the file system gives none)."""
    try:
        if entry.is_dir(follow_symlinks=False):
            return _DIRECTORY
        if entry.is_file(follow_symlinks=False):
            return _FILE
    except OSError:
        pass  # the lstat of the slow way reports it
    return _OTHER


def _without_kind(listed: str) -> str:
    return listed[1:]


class _PaddedFile:
    """Exactly ``size`` bytes of an open file: zeros after an early end (the file shrank)."""

    def __init__(self, fd: int, size: int, path: Path) -> None:
        self._fd = fd
        self._left = size
        self._path = path
        self.missing = 0

    def readinto(self, view: memoryview) -> int:
        """Fill ``view`` (up to what is left of the file) and return how much that was."""
        want = min(len(view), self._left)
        got = 0
        while got < want and not self.missing:
            try:
                count = os.readv(self._fd, [view[got:want]])
            except OSError as error:
                raise LocalIOError(f"cannot back up {self._path}: {error.strerror or error}") from None
            if not count:
                self.missing = self._left - got
                break
            got += count
        if got < want:
            view[got:want] = bytes(want - got)
        self._left -= want
        return want

    def read(self, size: int = -1) -> bytes:
        buffer = bytearray(self._left if size < 0 else min(size, self._left))
        with memoryview(buffer) as view:
            self.readinto(view)
        return bytes(buffer)


def _warn_if_shrunk(path: Path, content: _PaddedFile) -> None:
    if content.missing:
        log.warning("%s shrank by %d bytes while it was read; the rest is stored as zeros", path, content.missing)


def _kind(mode: int) -> str:
    kinds: dict[Any, str] = {
        stat.S_ISFIFO: "FIFO",
        stat.S_ISSOCK: "socket",
        stat.S_ISCHR: "character device",
        stat.S_ISBLK: "block device",
        stat.S_ISDIR: "directory",
        stat.S_ISLNK: "symlink",
    }
    return next((name for test, name in kinds.items() if test(mode)), "special file")
