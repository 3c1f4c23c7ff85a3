"""Safe extraction of archive members below one target directory.

Hand-written because nothing else does this job here: Python's ``tarfile`` resolves paths with
``realpath`` (fooled by long paths and symlink chains, CVE-2025-4517) and its filter API is
missing before 3.11.4 (Debian 12 ships 3.11.2); no library offers directory-fd-relative
extraction in pure Python, and libarchive needs a system library that stock database images do
not carry.

How it stays inside the target:

- every path component is opened relative to an open directory of the target with
  ``O_NOFOLLOW``, so a symlink is never traversed while extracting; a member beneath a symlink
  is refused;
- files are created fresh (``O_EXCL``, after removing whatever had the name), so a member never
  writes through an existing link;
- hard links may only point to a regular file extracted earlier from the same archive;
- once everything is in place, every extracted symlink is resolved component by component
  from the target root; one that leads outside the target fails the extraction.

:class:`MemberRules` holds the checks that need no file system; ``brs verify`` runs them alone,
so it refuses exactly what a restore would refuse, as far as can be known without writing.
"""

from __future__ import annotations

import errno
import functools
import os
import stat
import tarfile
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, NamedTuple

from brs.errors import ArchiveError
from brs.pipeline import cores
from brs.writebehind import Call, WriteBehind

__all__ = ["MemberRules", "TreeExtractor", "member_name"]

#: Symlinks followed while resolving one link before it counts as a loop (the kernel's limit).
MAX_HOPS = 40
_COPY_BUFFER = 1 << 18
#: Directory descriptors kept open for the next members.
_OPEN_DIRECTORIES = 32
#: Evicted directory descriptors gathered before the writers are asked to release them.
_RETIRE = 32
#: Small files handed to a write-behind thread in one batch, at most (and at most _COPY_BUFFER bytes).
_BATCH_FILES = 16
#: Write-behind threads at most (one per core up to this).
_MAX_WRITERS = 4
#: Bytes of one file written before they are handed to the disk, and the smallest file whose
#: rest is handed over when it is closed (see _start_writeback).
_WRITEBACK = 8 << 20
_WRITEBACK_FILE = 1 << 20
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_SPECIAL_BITS = stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX

# What a lookup of a path below the target root finds.
_DIR, _LINK, _OTHER = "dir", "link", "other"
Lookup = Callable[[str], tuple[str, str]]


def member_name(name: str) -> str:
    """``name`` without empty and ``.`` components; refuses absolute names and ``..``.

    The empty result stands for the target root itself.
    """
    if "\x00" in name:
        raise ArchiveError(f"archive member {name!r} has a NUL byte in its name")
    if name.startswith("/"):
        raise ArchiveError(f"archive member {name!r} would be written outside the target directory (absolute name)")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise ArchiveError(f"archive member {name!r} would be written outside the target directory ('..')")
    return "/".join(parts)


class MemberRules:
    """The checks of each member, in archive order, that need no file system.

    Remembers the names of regular files (hard links may point only to them) and of symlinks
    (nothing may be extracted beneath one; each is resolved at the end).
    """

    def __init__(self) -> None:
        self.regular: set[str] = set()
        self.symlinks: dict[str, str] = {}

    def admit(self, name: str, info: tarfile.TarInfo) -> str:
        """The normalized name of a member that may be extracted; raises :class:`ArchiveError` if not.

        ``info`` gives the type and link target; ``name`` may differ from ``info.name`` (a joined
        stream, a stripped leading folder).
        """
        clean = member_name(name)
        if self.symlinks:
            _refuse_beneath_symlink(clean, self.symlinks)
        if info.isreg() or info.isdir():
            pass
        elif info.issym():
            _check_symlink(clean, info.linkname)
        elif info.islnk():
            source = member_name(info.linkname)
            if source == clean or source not in self.regular:
                raise ArchiveError(
                    f"archive member {clean!r} is a hard link to {info.linkname!r}, "
                    "which is not a regular file extracted earlier from this archive"
                )
        elif info.ischr() or info.isblk() or info.isfifo():
            raise ArchiveError(f"archive member {clean!r} is a device file or FIFO; brs does not restore those")
        else:
            raise ArchiveError(f"archive member {clean!r} has an unsupported type {info.type!r}")
        if not clean:
            if not info.isdir():
                raise ArchiveError(f"archive member {name!r} would replace the target directory itself")
            return clean
        # A name written again stops counting as what it was before.
        self.regular.discard(clean)
        self.symlinks.pop(clean, None)
        if info.isreg() or info.islnk():
            self.regular.add(clean)
        elif info.issym():
            self.symlinks[clean] = info.linkname
        return clean

    def check_links(self) -> None:
        """Raise if a symlink would resolve outside the target once every member is in place.

        Without the files themselves, every path that is not a known symlink counts as a
        directory: that can only make the check stricter than the one on disk.
        """

        def lookup(path: str) -> tuple[str, str]:
            target = self.symlinks.get(path)
            return (_DIR, "") if target is None else (_LINK, target)

        for name in self.symlinks:
            _refuse_escape(name, lookup)


class TreeExtractor:
    """Writes members below ``target`` through directory file descriptors.

    Modes (without setuid, setgid and sticky bits unless ``keep_special_bits``), numeric owners
    (when running as root) and mtimes (to the nanosecond where the archive stores them) are
    kept. Directories get theirs in :meth:`finish`, deepest first, after their content exists.
    """

    def __init__(self, target: Path, *, keep_special_bits: bool = False) -> None:
        self.target = target
        self.rules = MemberRules()
        self._mode_mask = 0o7777 if keep_special_bits else 0o7777 & ~_SPECIAL_BITS
        self._chown = os.geteuid() == 0
        try:
            self._root = os.open(target, _DIR_FLAGS)
        except OSError as error:
            raise ArchiveError(f"cannot open the target directory {target}: {error.strerror or error}") from error
        # Descriptors of recently used directories by relative name: members come in tree
        # order, so a new directory is opened from its cached parent with one call.
        self._open: OrderedDict[str, int] = OrderedDict()
        # What each directory gets once its content is in place; only the few fields needed, since
        # a TarInfo per directory would make a restore's memory grow with the tree.
        self._directories: list[_Attributes] = []
        # Files are created, written and closed by write-behind threads (one per core, started
        # with the first file), overlapping the kernel's work with the parsing of the next
        # members; creating files in other directories runs in parallel in the kernel.
        self._writers: list[WriteBehind] = []
        self._queued: set[str] = set()  # files whose calls a writer has not finished yet
        # Small files (one piece) wait here and go to one writer together; see _write_file.
        self._batch: list[Call] = []
        self._batch_writer: WriteBehind | None = None
        self._batch_bytes = 0
        # Directory descriptors evicted from the cache that queued files may still create in.
        self._retired: list[int] = []
        # Files are created with their stored mode when the umask leaves it whole (no fchmod).
        self._umask = _process_umask()

    # -- members -----------------------------------------------------------------------------
    def add(self, name: str, info: tarfile.TarInfo, content: IO[bytes] | None = None) -> None:
        """Extract one member named ``name`` (a regular file's data comes from ``content``)."""
        clean = self.rules.admit(name, info)
        if (self._queued and not (info.isreg() or info.isdir())) or self._touches_queued(clean):
            self._drain()  # links and conflicting names need the files before them in place
        if not clean:
            self._directories.append(_Attributes.of(clean, info))
            return
        parent, _, base = clean.rpartition("/")
        try:
            directory = self._parent(parent, clean)
            if info.isdir():
                self._make_directory(directory, base, clean)
                self._directories.append(_Attributes.of(clean, info))
            elif info.isreg():
                assert content is not None, "a regular member needs its content"
                self._write_file(directory, base, clean, info, content)
            elif info.issym():
                self._replace(directory, base, clean, lambda: os.symlink(info.linkname, base, dir_fd=directory))
                self._set_link_attributes(directory, base, info)
            else:
                self._hard_link(directory, base, clean, member_name(info.linkname))
        except OSError as error:
            raise ArchiveError(f"cannot extract {clean!r}: {error.strerror or error}") from error

    def finish(self) -> None:
        """Refuse symlinks that lead outside, then apply directory attributes deepest first.

        Links are checked first, while every directory is still the extractor's own (0o700).
        """
        try:
            self._drain()
            try:
                self._check_links()
            except OSError as error:
                raise ArchiveError(f"cannot check the extracted symlinks: {error.strerror or error}") from error
            for attributes in sorted(self._directories, key=lambda item: item.name.count("/"), reverse=True):
                name = attributes.name
                fd = self._open_directory(name, create=False)
                try:
                    self._set_attributes(fd, attributes)
                except OSError as error:
                    raise ArchiveError(f"cannot set attributes of {name or '.'!r}: {error.strerror or error}") from error
                finally:
                    os.close(fd)
            self._directories.clear()
        finally:
            self.close()

    def close(self) -> None:
        """Release the directory descriptors (also after a failure)."""
        self._batch.clear()  # not handed over: none of them has a descriptor yet
        for writer in self._writers:
            writer.close()  # runs the queued closes: no descriptor is left open
        self._writers.clear()
        self._close_retired()
        while self._open:
            os.close(self._open.popitem()[1])
        if self._root >= 0:
            os.close(self._root)
            self._root = -1

    # -- directories -------------------------------------------------------------------------
    def _parent(self, parent: str, member: str) -> int:
        """A cached descriptor of the directory ``parent``, created if missing (do not close it)."""
        fd = self._open.get(parent)
        if fd is not None:
            self._open.move_to_end(parent)
            return fd
        fd = self._open_directory(parent, create=True, member=member)
        self._open[parent] = fd
        if len(self._open) > _OPEN_DIRECTORIES:
            self._retire(self._open.popitem(last=False)[1])
        return fd

    def _retire(self, fd: int) -> None:
        """Close an evicted directory descriptor once no queued file can still need it.

        Queued files create themselves in their parent's descriptor (a duplicate per file cost
        two more system calls, each a round trip of the interpreter's lock). Retired descriptors
        are released in groups: behind a barrier that every writer passes in order.
        """
        if not self._writers:
            os.close(fd)
            return
        self._retired.append(fd)
        if len(self._retired) >= _RETIRE:
            self._flush_batch()
            barrier = _Release(self._retired, len(self._writers))
            self._retired = []
            for writer in self._writers:
                writer.submit(barrier.arrive, cleanup=True)

    def _close_retired(self) -> None:
        """Close the retired descriptors (the writers have nothing queued)."""
        fds, self._retired = self._retired, []
        for fd in fds:
            os.close(fd)

    def _touches_queued(self, name: str) -> bool:
        """Whether ``name`` or one of its parents is a file the writer has not finished."""
        queued = self._queued  # membership tests only: the writer threads remove names meanwhile
        if not queued:
            return False
        while name:
            if name in queued:
                return True
            name = name.rpartition("/")[0]
        return False

    def _drain(self) -> None:
        self._flush_batch()
        for writer in self._writers:
            writer.drain()
        self._close_retired()

    def _open_directory(self, relative: str, *, create: bool, member: str | None = None) -> int:
        """An fd of ``relative`` below the root (the caller closes it), opened one component at
        a time without following symlinks, from the nearest cached directory; missing
        directories are created when ``create``."""
        walked, rest = relative, []
        while walked and walked not in self._open:
            walked, _, part = walked.rpartition("/")
            rest.append(part)
        fd = self._open[walked] if walked else self._root
        if not rest:
            return os.dup(fd)
        owned = False  # the cached descriptor the walk starts from is not the caller's to close
        try:
            for part in reversed(rest):
                walked = f"{walked}/{part}" if walked else part
                try:
                    next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    _mkdir(part, fd)
                    next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except OSError as error:
                    if error.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise ArchiveError(
                            f"archive member {member or relative!r} lies beneath {walked!r}, which is not a directory"
                        ) from None
                    raise
                if owned:
                    os.close(fd)
                fd, owned = next_fd, True
        except BaseException:
            if owned:
                os.close(fd)
            raise
        return fd

    def _make_directory(self, directory: int, base: str, name: str) -> None:
        try:
            _mkdir(base, directory)
        except FileExistsError:
            if stat.S_ISDIR(os.stat(base, dir_fd=directory, follow_symlinks=False).st_mode):
                return
            self._replace(directory, base, name, lambda: _mkdir(base, directory))

    # -- files and links ---------------------------------------------------------------------
    def _write_file(self, directory: int, base: str, name: str, info: tarfile.TarInfo, content: IO[bytes]) -> None:
        """Queue the creation, content and attributes of one file; the content is read here.

        One queued call per piece of content; a file of one piece is one call, and such calls
        travel in batches: each hand-off between threads costs more than the system calls of
        a small file. ``directory`` stays open until the writer has created the file (_retire).
        """
        # Views of the decompressed pieces where the reader offers them: the data only goes to
        # os.write, and copying it here held the interpreter's lock that every thread waits for.
        read: Callable[[int], bytes | memoryview] = getattr(content, "read_view", content.read)
        data = read(_COPY_BUFFER)
        following = read(_COPY_BUFFER) if data else b""
        self._queued.add(name)
        if not following:
            if self._batch and self._batch_bytes + len(data) > _COPY_BUFFER:
                self._flush_batch()
            if self._batch_writer is None:
                self._batch_writer = self._writer()
            file = _QueuedFile(self, self._batch_writer, name, base, directory, info)
            self._batch.append((functools.partial(file.step, data, create=True, finish=True), True))
            self._batch_bytes += len(data)
            if len(self._batch) >= _BATCH_FILES:
                self._flush_batch()
            return
        writer = self._writer()
        file = _QueuedFile(self, writer, name, base, directory, info)
        finished, first = False, True
        try:
            while not finished:
                finished = not following
                writer.submit(functools.partial(file.step, data, create=first, finish=finished), cleanup=finished)
                data, first = following, False
                following = read(_COPY_BUFFER) if not finished else b""
        finally:
            if not finished:  # the archive failed mid-file: release the file's descriptor
                writer.submit(functools.partial(file.step, b"", create=False, finish=True, abandon=True), cleanup=True)

    def _flush_batch(self) -> None:
        """Hand the waiting small files to their writer."""
        if self._batch:
            assert self._batch_writer is not None
            batch, self._batch = self._batch, []
            self._batch_bytes = 0
            self._batch_writer.submit_batch(batch)
        self._batch_writer = None

    def _creation_mode(self, info: tarfile.TarInfo) -> tuple[int, bool]:
        """The mode to create a file with, and whether it still needs an ``fchmod`` afterwards.

        The umask may take bits away, and an ``fchown`` clears setuid and setgid: then the
        file is created owner-only and gets its mode with the other attributes.
        """
        mode = info.mode & self._mode_mask
        if mode & (self._umask | _SPECIAL_BITS):
            return 0o600, True
        return mode, False

    def _writer(self) -> WriteBehind:
        """The write-behind thread with the least queued: one file goes to one thread."""
        if not self._writers:
            self._writers = [WriteBehind(f"brs-write-behind-{n}") for n in range(min(cores(), _MAX_WRITERS))]
        return min(self._writers, key=lambda writer: writer.backlog)

    def _hard_link(self, directory: int, base: str, name: str, source: str) -> None:
        source_parent, _, source_base = source.rpartition("/")
        source_dir = self._open_directory(source_parent, create=False)
        try:
            if not stat.S_ISREG(os.stat(source_base, dir_fd=source_dir, follow_symlinks=False).st_mode):
                raise ArchiveError(f"archive member {name!r} is a hard link to {source!r}, which is not a regular file")
            self._replace(
                directory,
                base,
                name,
                lambda: os.link(source_base, base, src_dir_fd=source_dir, dst_dir_fd=directory, follow_symlinks=False),
            )
        finally:
            os.close(source_dir)

    def _replace(self, directory: int, base: str, name: str, create: Callable[[], int | None]) -> int:
        """Run ``create``; if the name exists (and is no directory), remove it and retry once.

        Never reusing an existing inode keeps a member from writing through a planted link.
        """
        try:
            return create() or 0
        except FileExistsError:
            pass
        if stat.S_ISDIR(os.stat(base, dir_fd=directory, follow_symlinks=False).st_mode):
            raise ArchiveError(f"archive member {name!r} would replace a directory")
        os.unlink(base, dir_fd=directory)
        return create() or 0

    def _set_attributes(self, fd: int, attributes: _Attributes, *, mode: bool = True) -> None:
        """Owner, mode (unless ``mode`` is false: the file was created with it) and mtime."""
        if self._chown:
            os.fchown(fd, attributes.uid, attributes.gid)
        if mode:
            os.fchmod(fd, attributes.mode & self._mode_mask)
        os.utime(fd, ns=(attributes.mtime_ns, attributes.mtime_ns))

    def _set_link_attributes(self, directory: int, base: str, info: tarfile.TarInfo) -> None:
        if self._chown:
            os.chown(base, info.uid, info.gid, dir_fd=directory, follow_symlinks=False)
        mtime = _mtime_ns(info)
        os.utime(base, ns=(mtime, mtime), dir_fd=directory, follow_symlinks=False)

    # -- the final check ---------------------------------------------------------------------
    def _check_links(self) -> None:
        for name in self.rules.symlinks:
            try:
                _refuse_escape(name, self._lookup)
            except ArchiveError:
                parent, _, base = name.rpartition("/")
                fd = self._open_directory(parent, create=False)
                try:
                    os.unlink(base, dir_fd=fd)
                finally:
                    os.close(fd)
                raise

    def _lookup(self, path: str) -> tuple[str, str]:
        """What ``path`` below the root is; its leading components are known directories."""
        parent, _, base = path.rpartition("/")
        fd = self._root
        try:
            if parent:
                try:
                    fd = self._open_directory(parent, create=False)
                except FileNotFoundError:
                    return _DIR, ""  # missing: treated as a directory, the strict choice
            try:
                mode = os.stat(base, dir_fd=fd, follow_symlinks=False).st_mode
            except FileNotFoundError:
                return _DIR, ""
            if stat.S_ISLNK(mode):
                return _LINK, os.readlink(base, dir_fd=fd)
            return (_DIR, "") if stat.S_ISDIR(mode) else (_OTHER, "")
        finally:
            if fd != self._root:
                os.close(fd)


class _QueuedFile:
    """One file being extracted by a write-behind thread, one :meth:`step` at a time."""

    def __init__(
        self, extractor: TreeExtractor, writer: WriteBehind, name: str, base: str, parent: int, info: tarfile.TarInfo
    ) -> None:
        self._extractor, self._writer = extractor, writer
        self.name, self._base, self._parent, self._info = name, base, parent, info
        self._mode, self._chmod = extractor._creation_mode(info)
        self._fd = -1
        self._written = self._handed_off = 0

    def step(self, data: bytes | memoryview, *, create: bool, finish: bool, abandon: bool = False) -> None:
        """Create the file (first step), write ``data``, and set its attributes and close it
        (last step, queued as a clean-up: after any earlier error it only closes)."""
        try:
            if not self._writer.failed and not abandon:
                if create:
                    self._fd = self._extractor._replace(self._parent, self._base, self.name, self._open)
                view = memoryview(data)
                while view:
                    view = view[os.write(self._fd, view) :]
                self._written += len(data)
                pending = self._written - self._handed_off
                if pending >= _WRITEBACK or (finish and pending and self._written >= _WRITEBACK_FILE):
                    _start_writeback(self._fd, self._handed_off, pending)
                    self._handed_off = self._written
                if finish:
                    attributes = _Attributes.of(self.name, self._info)
                    self._extractor._set_attributes(self._fd, attributes, mode=self._chmod)
        except OSError as error:
            raise ArchiveError(f"cannot extract {self.name!r}: {error.strerror or error}") from error
        finally:
            if finish:
                self._extractor._queued.discard(self.name)
                if self._fd >= 0:
                    os.close(self._fd)

    def _open(self) -> int:
        return os.open(self._base, _FILE_FLAGS, self._mode, dir_fd=self._parent)


class _Release:
    """Directory descriptors closed once each of ``writers`` threads has arrived here, i.e. has
    run every call queued before (calls run in order on each thread)."""

    def __init__(self, fds: list[int], writers: int) -> None:
        self._fds, self._waiting = fds, writers
        self._lock = threading.Lock()

    def arrive(self) -> None:
        with self._lock:
            self._waiting -= 1
            if self._waiting:
                return
        for fd in self._fds:
            os.close(fd)


def _process_umask() -> int:
    """The process's umask, read without changing it (``os.umask`` sets it to read it, which
    other threads would see); all bits when it cannot be read, so every file gets an fchmod."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o7777


def _start_writeback(fd: int, offset: int, length: int) -> None:
    """Start writing a range of a restored file to disk now, from the write-behind thread.

    Otherwise the kernel starts only once the dirty pages pass its thresholds (10 % of memory
    here), so most of a restore reached the disk during the sync before the swap: 0.41 s of
    a 512 MiB restore's 3.9 s, 0.13 s this way (6 interleaved pairs: median 3.83 against
    3.96 s). Large files, most of a database's bytes, also stay under 8 MiB of dirty pages
    each, which a container's memory limit is charged for. On Linux,
    ``POSIX_FADV_DONTNEED`` on dirty pages starts their writeback (the call Python offers;
    ``sync_file_range`` it does not) and drops only pages already clean.
    """
    os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)


def _mkdir(name: str, directory: int) -> None:
    # Owner-only until finish() applies the stored mode, so content can still be written.
    os.mkdir(name, 0o700, dir_fd=directory)


def _refuse_beneath_symlink(name: str, symlinks: dict[str, str]) -> None:
    prefix = ""
    for part in name.split("/")[:-1]:
        prefix = f"{prefix}/{part}" if prefix else part
        if prefix in symlinks:
            raise ArchiveError(f"archive member {name!r} lies beneath the symlink {prefix!r}")


def _check_symlink(name: str, link: str) -> None:
    """Refuse symlinks that point outside on their own (absolute, or too many ``..``)."""
    if not link or "\x00" in link:
        raise ArchiveError(f"archive member {name!r} is a symlink to {link!r}, which no file system can hold")
    if link.startswith("/"):
        raise ArchiveError(f"archive member {name!r} is an absolute symlink to {link!r}")
    depth = name.count("/")
    for part in link.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                raise ArchiveError(f"archive member {name!r} is a symlink to {link!r}, outside the target directory")
        elif part not in ("", "."):
            depth += 1


def _refuse_escape(name: str, lookup: Lookup) -> None:
    """Resolve the symlink ``name`` one component at a time from the target root; raise if it
    leads outside, is absolute, or needs more than :data:`MAX_HOPS` links."""
    resolved = name.split("/")[:-1]
    pending = deque(_link_target(name, lookup).split("/"))
    hops = 0
    while pending:
        part = pending.popleft()
        if part in ("", "."):
            continue
        if part == "..":
            if not resolved:
                raise ArchiveError(f"archive member {name!r} is a symlink that resolves outside the target directory")
            resolved.pop()
            continue
        kind, link = lookup("/".join([*resolved, part]))
        if kind == _LINK:
            hops += 1
            if hops > MAX_HOPS:
                raise ArchiveError(f"archive member {name!r} is a symlink chain longer than {MAX_HOPS} links")
            if link.startswith("/"):
                raise ArchiveError(f"archive member {name!r} is a symlink that resolves to the absolute path {link!r}")
            pending.extendleft(reversed(link.split("/")))
        elif kind == _OTHER:
            return  # a file in the middle of a path: the link cannot resolve at all
        else:
            resolved.append(part)


def _link_target(name: str, lookup: Lookup) -> str:
    kind, link = lookup(name)
    return link if kind == _LINK else ""


class _Attributes(NamedTuple):
    """What a member gets once its content is in place (a directory keeps only this until the end)."""

    name: str
    uid: int
    gid: int
    mode: int
    mtime_ns: int

    @classmethod
    def of(cls, name: str, info: tarfile.TarInfo) -> _Attributes:
        return cls(name, info.uid, info.gid, info.mode, _mtime_ns(info))


def _mtime_ns(info: tarfile.TarInfo) -> int:
    """The member's mtime in nanoseconds, exact when a pax header stores a fraction."""
    text = info.pax_headers.get("mtime")
    if text is not None:
        whole, _, fraction = text.partition(".")
        if whole.isascii() and whole.isdigit() and fraction.isascii() and (fraction.isdigit() or not fraction):
            # What tarfile writes ("1700000000.123456789"), without Decimal's cost per member;
            # digits beyond nanoseconds are cut off, as int(Decimal) does.
            return int(whole) * 1_000_000_000 + int(fraction[:9].ljust(9, "0"))
        try:
            return int(Decimal(text).scaleb(9))
        except (InvalidOperation, ValueError):
            pass
    return int(info.mtime) * 1_000_000_000
