"""The tar layer: what database plugins write into and read from.

A backup's payload is a POSIX (pax) tar stream. Files and trees keep their modes, owners,
mtimes and symlinks. Output of a dump tool has no size known up front, which tar needs per
member, so :meth:`ArchiveWriter.add_stream` cuts it into numbered members of bounded size
(``NAME.part-000000``, ...) marked with a ``BRS.stream`` pax record; :class:`ArchiveReader` joins
them back into one stream. With plain GNU tar, ``cat NAME.part-*`` gives the original back.
"""

from __future__ import annotations

import io
import os
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

from brs.errors import ArchiveError

__all__ = ["STREAM_PART_SIZE", "ArchiveEntry", "ArchiveReader", "ArchiveWriter"]

#: Bytes of a dump stream held in memory before they become one tar member.
STREAM_PART_SIZE = 4 << 20
_COPY_BUFFER = 1 << 20
_STREAM_KEY = "BRS.stream"
_PART_KEY = "BRS.part"


class ArchiveWriter:
    """Adds files, trees, bytes and streams to the tar stream of a backup."""

    def __init__(self, sink: BinaryIO) -> None:
        # mode "w" on a sink that implements tell() avoids tarfile's slow "w|" buffering.
        # Closed by close(); typeshed lacks copybufsize.
        self._tar = tarfile.open(  # type: ignore[call-overload]  # noqa: SIM115
            fileobj=sink, mode="w", format=tarfile.PAX_FORMAT, copybufsize=_COPY_BUFFER
        )
        self.members = 0
        self.bytes_added = 0

    def _added(self, info: tarfile.TarInfo) -> None:
        self.members += 1
        self.bytes_added += info.size
        # tarfile remembers every member; a dump of millions of files must not grow memory.
        _forget_members(self._tar)

    def add_path(self, path: Path, arcname: str, *, exclude: Callable[[str], bool] | None = None) -> None:
        """Add ``path`` as ``arcname``; directories recursively, symlinks as links.

        :param exclude: called with each member name below ``arcname``; True leaves it out.
        """
        info = self._tar.gettarinfo(str(path), arcname=arcname)
        if info is None:  # sockets and the like have no place in a backup
            return
        if info.isreg():
            with open(path, "rb") as source:
                self._tar.addfile(info, source)
        else:
            self._tar.addfile(info)
        self._added(info)
        if info.isdir():
            with os.scandir(path) as entries:
                names = sorted(entry.name for entry in entries)
            for name in names:
                child = f"{arcname}/{name}" if arcname not in ("", ".") else name
                if exclude is not None and exclude(child):
                    continue
                self.add_path(path / name, child, exclude=exclude)

    def add_bytes(self, arcname: str, data: bytes, mode: int = 0o644) -> None:
        """Add a small in-memory file."""
        info = tarfile.TarInfo(arcname)
        info.size = len(data)
        info.mode = mode
        info.mtime = int(time.time())
        self._tar.addfile(info, io.BytesIO(data))
        self._added(info)

    def add_stream(self, arcname: str, source: BinaryIO, mode: int = 0o644) -> int:
        """Add everything ``source`` yields as one logical file, in bounded parts.

        :returns: the number of bytes read from ``source``.
        """
        total = 0
        part = 0
        buffer = bytearray(STREAM_PART_SIZE)
        view = memoryview(buffer)
        while True:
            filled = _read_full(source, view)
            last = filled < STREAM_PART_SIZE
            if filled or part == 0 or not last:
                info = tarfile.TarInfo(f"{arcname}.part-{part:06d}")
                info.size = filled
                info.mode = mode
                info.mtime = int(time.time())
                info.pax_headers = {_STREAM_KEY: arcname, _PART_KEY: str(part)}
                self._tar.addfile(info, io.BytesIO(view[:filled]))
                self._added(info)
                total += filled
                part += 1
            if last:
                return total

    def close(self) -> None:
        """Write the end-of-archive marker."""
        self._tar.close()


class ArchiveEntry:
    """One logical member: a file, directory, link, or a joined stream."""

    def __init__(self, reader: ArchiveReader, info: tarfile.TarInfo, stream_name: str | None = None) -> None:
        self._reader = reader
        self.info = info
        self.stream_name = stream_name

    @property
    def name(self) -> str:
        return self.stream_name if self.stream_name is not None else self.info.name

    @property
    def is_stream(self) -> bool:
        return self.stream_name is not None

    def open(self) -> BinaryIO:
        """Read a regular file's or a stream's content (only until the next entry is requested)."""
        if self.is_stream:
            return cast(BinaryIO, _JoinedStream(self._reader, self))
        handle = self._reader.tar.extractfile(self.info)
        if handle is None:
            raise ArchiveError(f"archive member {self.name!r} is not a regular file")
        return cast(BinaryIO, _GuardedReader(handle, self.name))

    def check(self) -> None:
        """Raise :class:`ArchiveError` if extracting this entry would be unsafe (as extract would)."""
        if not self.is_stream:
            _safe_member(self.info, Path("/brs-verify-root"))

    def extract(self, target: Path) -> None:
        """Extract below ``target`` safely (a stream becomes one joined file)."""
        if self.is_stream:
            destination = _inside(target, self.name)
            destination.parent.mkdir(parents=True, exist_ok=True)
            with self.open() as source, open(destination, "wb") as out:
                while piece := source.read(_COPY_BUFFER):
                    out.write(piece)
            os.chmod(destination, self.info.mode & 0o7777)
            return
        self._reader.extract_member(self.info, target)


class ArchiveReader:
    """Iterates the members of a backup's tar stream once, in order."""

    def __init__(self, source: BinaryIO) -> None:
        try:
            # Normal mode on a forward-only file: "r|" re-slices a bufsize buffer on every read,
            # copying up to 1 MiB per 512-byte header, which dominated extraction of small files.
            self.tar = tarfile.open(fileobj=_ForwardReader(source), mode="r:")  # noqa: SIM115 - lives as long as the reader
        except tarfile.TarError as error:
            raise ArchiveError(f"backup payload is not a valid tar stream: {error}") from error
        self.tar.copybufsize = _COPY_BUFFER  # type: ignore[attr-defined]
        self._pending: tarfile.TarInfo | None = None
        self._directories: list[tuple[tarfile.TarInfo, Path]] = []
        # Directories (relative names) already resolved to real paths inside the target; spares
        # the data filter's two realpath() walks (one lstat per path component) for each member.
        self._verified: set[str] = set()
        self._verified_root: tuple[Path, str] | None = None
        self.members = 0
        self.exhausted = False

    def _next_info(self) -> tarfile.TarInfo | None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            return pending
        if self.exhausted:
            return None
        try:
            info = self.tar.next()
        except tarfile.TarError as error:
            raise ArchiveError(f"backup payload is damaged: {error}") from error
        if info is None:
            self.exhausted = True
        else:
            self.members += 1
            # Keep memory flat for archives with millions of members.
            _forget_members(self.tar)
        return info

    def _push_back(self, info: tarfile.TarInfo) -> None:
        self._pending = info

    def __iter__(self) -> Iterator[ArchiveEntry]:
        while (info := self._next_info()) is not None:
            stream = info.pax_headers.get(_STREAM_KEY)
            if stream is not None:
                if info.pax_headers.get(_PART_KEY) != "0":
                    raise ArchiveError(f"stream {stream!r} starts with part {info.pax_headers.get(_PART_KEY)}")
                self._push_back(info)
                yield ArchiveEntry(self, info, stream)
                self._skip_stream(stream)
            else:
                yield ArchiveEntry(self, info)

    def _skip_stream(self, stream: str) -> None:
        while (info := self._next_info()) is not None:
            if info.pax_headers.get(_STREAM_KEY) != stream:
                self._push_back(info)
                return

    def _checked(self, info: tarfile.TarInfo, target: Path) -> tarfile.TarInfo:
        """``info`` if it is safe to extract below ``target``, as :func:`_safe_member` decides.

        Regular files and directories with plain relative names take a fast path with the same
        outcome: their parent directory resolves inside the target (cached per directory) and
        the name itself is not an existing symlink. Everything else, and any member after a
        symlink was extracted (it may redirect a cached directory), gets the full check.
        """
        if self._verified_root is None or self._verified_root[0] != target:
            self._verified_root, self._verified = (target, os.path.realpath(target)), set()
        name = info.name
        if (info.isreg() or info.isdir()) and _plain_relative(name):
            parent = name.rpartition("/")[0]
            inside = parent in self._verified or self._verify_directory(target, parent)
            if inside and not os.path.islink(os.path.join(target, name)):
                return info
        safe = _safe_member(info, target)
        if safe.issym() or safe.islnk():
            self._verified.clear()
        return safe

    def _verify_directory(self, target: Path, parent: str) -> bool:
        assert self._verified_root is not None
        root = self._verified_root[1]
        real = os.path.realpath(os.path.join(target, parent))
        if real == root or real.startswith(root.rstrip("/") + "/"):
            self._verified.add(parent)
            return True
        return False

    def extract_member(self, info: tarfile.TarInfo, target: Path) -> None:
        safe = self._checked(info, target)
        try:
            if safe.isdir():
                path = target / safe.name  # checked above, like every member
                path.mkdir(parents=True, exist_ok=True)
                # Directory modes and mtimes are set at the end, after their content exists.
                self._directories.append((safe, path))
                os.chmod(path, 0o700)
            else:
                self.tar.extract(safe, str(target), set_attrs=True, numeric_owner=True, filter="fully_trusted")
        except (OSError, tarfile.TarError) as error:
            raise ArchiveError(f"cannot extract {info.name!r}: {error}") from error

    def extract_all(self, target: Path, *, strip: str = "") -> int:
        """Extract every remaining entry below ``target``; returns the number of entries.

        :param strip: a leading folder to remove from member names (``"data/"``).
        """
        count = 0
        for entry in self:
            if strip:
                if not (entry.name + "/").startswith(strip):
                    raise ArchiveError(f"unexpected archive member {entry.name!r} outside {strip!r}")
                relative = entry.name[len(strip) :].lstrip("/")
                if not relative:
                    if entry.info.isdir():  # the root itself: keep its mode, owner and mtime
                        self._directories.append((_safe_member(entry.info, target), target))
                    continue
                entry.info = entry.info.replace(name=relative, deep=False)
                if entry.stream_name is not None:
                    entry.stream_name = entry.stream_name[len(strip) :]
            entry.extract(target)
            count += 1
        self.finish_directories()
        return count

    def finish_directories(self) -> None:
        """Apply owners, modes and mtimes of extracted directories, deepest first."""
        for info, path in sorted(self._directories, key=lambda item: len(item[1].parts), reverse=True):
            try:
                self.tar.chown(info, str(path), numeric_owner=True)
                self.tar.utime(info, str(path))
                self.tar.chmod(info, str(path))
            except (OSError, tarfile.TarError) as error:
                raise ArchiveError(f"cannot set attributes of {info.name!r}: {error}") from error
        self._directories.clear()

    def drain(self) -> None:
        """Read (and so verify) everything the restore did not consume, up to the end marker."""
        for _ in self:
            pass
        # Reading past the end-of-archive blocks lets the layers below see the real end.
        fileobj = self.tar.fileobj
        while fileobj is not None and fileobj.read(_COPY_BUFFER):
            pass


class _ForwardReader(io.RawIOBase):
    """A stream that :mod:`tarfile`'s normal (seeking) mode can read: ``read(n)`` returns ``n``
    bytes unless the stream ends, and ``seek`` goes forward only, by skipping.

    Members are consumed in archive order, so tarfile only ever seeks forward.
    """

    def __init__(self, source: BinaryIO) -> None:
        super().__init__()
        self._source = source
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self._position
        elif whence != io.SEEK_SET:
            raise io.UnsupportedOperation("cannot seek relative to the end of a backup stream")
        if offset < self._position:
            raise io.UnsupportedOperation(f"cannot seek back from {self._position} to {offset} in a backup stream")
        while self._position < offset and self.read(min(offset - self._position, _COPY_BUFFER)):
            pass
        return self._position

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(_COPY_BUFFER), b""))
        pieces = []
        missing = size
        while missing > 0:
            piece = self._source.read(missing)
            if not piece:
                break
            pieces.append(piece)
            missing -= len(piece)
        self._position += size - missing
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _GuardedReader(io.RawIOBase):
    """Turns tarfile's read errors (a damaged or cut archive) into :class:`ArchiveError`."""

    def __init__(self, inner: IO[bytes], name: str) -> None:
        super().__init__()
        self._inner = inner
        self._name = name

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            return self._inner.read(size)
        except (tarfile.TarError, EOFError) as error:
            raise ArchiveError(f"archive member {self._name!r} is damaged: {error}") from error

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _JoinedStream(io.RawIOBase):
    def __init__(self, reader: ArchiveReader, entry: ArchiveEntry) -> None:
        super().__init__()
        self._reader = reader
        self._name = entry.stream_name
        self._expected_part = 0
        self._current: BinaryIO | None = None
        self._done = False

    def readable(self) -> bool:
        return True

    def _advance(self) -> bool:
        info = self._reader._next_info()
        if info is None or info.pax_headers.get(_STREAM_KEY) != self._name:
            if info is not None:
                self._reader._push_back(info)
            self._done = True
            return False
        if info.pax_headers.get(_PART_KEY) != str(self._expected_part):
            raise ArchiveError(
                f"stream {self._name!r}: expected part {self._expected_part}, found {info.pax_headers.get(_PART_KEY)}"
            )
        self._expected_part += 1
        handle = self._reader.tar.extractfile(info)
        assert handle is not None
        self._current = cast(BinaryIO, _GuardedReader(handle, str(self._name)))
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._done:
            if self._current is None and not self._advance():
                break
            assert self._current is not None
            n = self._current.readinto(buffer)  # type: ignore[attr-defined]
            if n:
                return int(n)
            self._current = None
        return 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(_COPY_BUFFER), b""))
        while not self._done:
            if self._current is None and not self._advance():
                break
            assert self._current is not None
            data = self._current.read(size)
            if data:
                return data
            self._current = None
        return b""


def _forget_members(tar: tarfile.TarFile) -> None:
    """Drop tarfile's list of seen members: an archive of millions of files must not grow memory."""
    cast(Any, tar).members.clear()


def _read_full(source: BinaryIO, view: memoryview) -> int:
    filled = 0
    readinto = getattr(source, "readinto", None)
    while filled < len(view):
        if readinto is not None:
            n = readinto(view[filled:])
        else:
            data = source.read(len(view) - filled)
            n = len(data)
            view[filled : filled + n] = data
        if not n:
            break
        filled += n
    return filled


def _plain_relative(name: str) -> bool:
    """True for a relative name without empty, ``.`` or ``..`` components."""
    return bool(name) and not name.startswith("/") and all(part not in ("", ".", "..") for part in name.split("/"))


def _inside(target: Path, name: str) -> Path:
    path = (target / name).resolve() if os.path.isabs(name) is False else None
    root = target.resolve()
    if path is None or (path != root and root not in path.parents):
        raise ArchiveError(f"archive member {name!r} would be written outside the target directory")
    return target / name


def _safe_member(info: tarfile.TarInfo, target: Path) -> tarfile.TarInfo:
    """Refuse what could escape or harm the target; keep modes and owners.

    The standard ``data`` filter decides what is unsafe (absolute or ``..`` paths, links that
    point outside or are absolute, device files). Its other changes (dropping owners and
    group/other write bits) would make the restore differ from the backup, so they are undone.
    """
    if info.name.startswith("/") or ".." in Path(info.name).parts:
        raise ArchiveError(f"archive member {info.name!r} would be written outside the target directory")
    if info.issym() and os.path.isabs(info.linkname):
        raise ArchiveError(f"archive member {info.name!r} is an absolute symlink to {info.linkname!r}")
    try:
        checked = tarfile.data_filter(info, str(target))
    except tarfile.FilterError as error:
        raise ArchiveError(f"unsafe archive member {info.name!r}: {error}") from error
    if checked is None:
        raise ArchiveError(f"unsafe archive member {info.name!r}")
    return checked.replace(mode=info.mode, uid=info.uid, gid=info.gid, uname=info.uname, gname=info.gname, deep=False)
