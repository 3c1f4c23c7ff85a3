"""The tar layer: what database plugins write into and read from.

A backup's payload is a POSIX (pax) tar stream. Files and trees keep their modes, owners,
mtimes and symlinks. Output of a dump tool has no size known up front, which tar needs per
member, so :meth:`ArchiveWriter.add_stream` cuts it into numbered members of bounded size
(``NAME.part-000000``, ...) marked with a ``BRS.stream`` pax record; :class:`ArchiveReader` joins
them back into one stream. With plain GNU tar, ``cat NAME.part-*`` gives the original back.
"""

from __future__ import annotations

import copy
import io
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO, Protocol, cast

from brs.errors import ArchiveError
from brs.extract import MemberRules, TreeExtractor
from brs.streams import RawReader
from brs.tarheader import member_header
from brs.tarread import FastTarInfo
from brs.walk import walk

__all__ = ["STREAM_PART_SIZE", "ArchiveEntry", "ArchiveReader", "ArchiveWriter"]

#: Bytes of a dump stream held in memory before they become one tar member.
STREAM_PART_SIZE = 4 << 20
_COPY_BUFFER = 1 << 18
_STREAM_KEY = "BRS.stream"
_PART_KEY = "BRS.part"


class _Content(Protocol):
    def read(self, size: int, /) -> bytes | memoryview: ...


class _PieceSink(Protocol):
    """A sink whose buffer content can be read into directly (:class:`brs.pipeline.ChannelWriter`)."""

    def spare(self) -> memoryview: ...

    def advance(self, size: int) -> None: ...


class _ViewReader:
    """Reads a part of a dump stream out of the reused part buffer as views, without copying;
    the sink copies what it keeps (a part was copied twice more on its way to the channel)."""

    def __init__(self, view: memoryview) -> None:
        self._view = view
        self._offset = 0

    def read(self, size: int, /) -> memoryview:
        piece = self._view[self._offset : self._offset + size]
        self._offset += len(piece)
        return piece


class ArchiveWriter:
    """Adds files, trees, bytes and streams to the tar stream of a backup.

    Headers come from :func:`brs.tarheader.member_header`, which writes what :mod:`tarfile` writes in
    pax format; content goes from the file straight to ``sink`` in pieces of up to 1 MiB. ``sink.write``
    must copy what it keeps: a piece may be a view of a buffer that is reused for the next one.
    """

    def __init__(self, sink: BinaryIO) -> None:
        self._sink = sink
        # Files are read straight into such a sink's buffer: one copy per byte, as GNU tar makes.
        self._pieces = cast(_PieceSink, sink) if hasattr(sink, "spare") and hasattr(sink, "advance") else None
        self._offset = 0
        self.members = 0
        self.bytes_added = 0

    def _add(self, info: tarfile.TarInfo, content: _Content | None = None) -> None:
        """Write one member: its header, then exactly ``info.size`` bytes of ``content``, padded."""
        header = member_header(info)
        self._sink.write(header)
        written = len(header)
        if content is not None and info.size:
            readinto = getattr(content, "readinto", None)
            if self._pieces is not None and readinto is not None:
                self._read_into_pieces(info, readinto, self._pieces)
            else:
                left = info.size
                while left:
                    piece = content.read(min(left, _COPY_BUFFER))
                    if not piece:
                        raise ArchiveError(f"{info.name!r} ended {left} bytes before the size in its header")
                    self._sink.write(piece)
                    left -= len(piece)
            padding = -info.size % tarfile.BLOCKSIZE
            if padding:
                self._sink.write(bytes(padding))
            written += info.size + padding
        self._offset += written
        self.members += 1
        self.bytes_added += info.size

    @staticmethod
    def _read_into_pieces(info: tarfile.TarInfo, readinto: Callable[[memoryview], int], sink: _PieceSink) -> None:
        left = info.size
        while left:
            with sink.spare() as spare, spare[:left] as view:
                got = readinto(view)
            if not got:
                raise ArchiveError(f"{info.name!r} ended {left} bytes before the size in its header")
            sink.advance(got)
            left -= got

    def add_path(self, path: Path, arcname: str, *, exclude: Callable[[str], bool] | None = None) -> None:
        """Add ``path`` as ``arcname``; directories recursively, symlinks below it as links.

        A symlinked ``path`` is followed. What cannot be restored is skipped with a warning and
        what cannot be read fails the backup; :mod:`brs.walk` says which is which.

        :param exclude: called with each member name below ``arcname``; True leaves it out.
        """
        for found in walk(path, arcname, exclude):
            self._add(found.info, found.content)

    def add_bytes(self, arcname: str, data: bytes, mode: int = 0o644) -> None:
        """Add a small in-memory file."""
        info = tarfile.TarInfo(arcname)
        info.size = len(data)
        info.mode = mode
        info.mtime = int(time.time())
        self._add(info, io.BytesIO(data))

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
                self._add(info, _ViewReader(view[:filled]))
                total += filled
                part += 1
            if last:
                return total

    def close(self) -> None:
        """Write the end-of-archive marker: two zero blocks, padded to a whole record as tarfile does."""
        end = 2 * tarfile.BLOCKSIZE
        end += -(self._offset + end) % tarfile.RECORDSIZE
        self._sink.write(bytes(end))
        self._offset += end


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
        if not self.info.isreg():
            raise ArchiveError(f"archive member {self.name!r} is not a regular file")
        return self._reader.content(self.info, self.name)

    def check(self) -> None:
        """Raise :class:`ArchiveError` if extract would refuse this entry, as far as can be known
        without writing (names, types, hard-link targets, symlinks). After the last entry,
        :meth:`ArchiveReader.check_links` checks where the symlinks lead."""
        self._reader.rules.admit(self.name, self._regular_info())

    def extract(self, target: Path) -> None:
        """Extract below ``target`` safely (a stream becomes one joined file).

        :meth:`ArchiveReader.finish_extraction` completes the extraction.
        """
        extractor = self._reader.extractor(target)
        info = self._regular_info()
        if info.isreg():
            with self.open() as content:
                extractor.add(self.name, info, content)
        else:
            extractor.add(self.name, info)

    def _regular_info(self) -> tarfile.TarInfo:
        """The member's header; a joined stream is one regular file."""
        if self.is_stream and not self.info.isreg():
            info = copy.copy(self.info)  # TarInfo.replace() arrived in 3.11.4
            info.type = tarfile.REGTYPE
            return info
        return self.info


class ArchiveReader:
    """Iterates the members of a backup's tar stream once, in order."""

    def __init__(self, source: BinaryIO, *, keep_special_bits: bool = False) -> None:
        """:param keep_special_bits: extract setuid, setgid and sticky bits (stripped by default)."""
        try:
            # Normal mode on a forward-only file: "r|" re-slices a bufsize buffer on every read,
            # copying up to 1 MiB per 512-byte header, which dominated extraction of small files.
            # Header blocks decode through brs.tarread (tarfile's decoder was the costliest step).
            self._stream = _ForwardReader(source)
            self.tar = tarfile.open(fileobj=self._stream, mode="r:", tarinfo=FastTarInfo)  # noqa: SIM115 - lives as long as the reader
        except tarfile.TarError as error:
            raise ArchiveError(f"backup payload is not a valid tar stream: {error}") from error
        self.tar.copybufsize = _COPY_BUFFER  # type: ignore[attr-defined]
        self.keep_special_bits = keep_special_bits
        self._pending: tarfile.TarInfo | None = None
        #: What :meth:`ArchiveEntry.check` has seen so far (names of files and symlinks).
        self.rules = MemberRules()
        self._extractor: TreeExtractor | None = None
        self.members = 0
        self.exhausted = False

    def content(self, info: tarfile.TarInfo, name: str) -> BinaryIO:
        """The content of the regular member ``info`` (``name`` for errors), readable until the
        next member is requested."""
        if info.issparse():
            handle = self.tar.extractfile(info)
            assert handle is not None  # a regular member
            return cast(BinaryIO, _GuardedReader(handle, name))
        return cast(BinaryIO, _MemberReader(self._stream, info.offset_data, info.size, name))

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

    def extractor(self, target: Path) -> TreeExtractor:
        """The extractor writing below ``target`` (one target at a time)."""
        if self._extractor is None or (self._extractor.target is not target and self._extractor.target != target):
            if self._extractor is not None:
                self._extractor.close()
            self._extractor = TreeExtractor(target, keep_special_bits=self.keep_special_bits)
        return self._extractor

    def finish_extraction(self) -> None:
        """Apply directory attributes and check every extracted symlink stays inside the target."""
        if self._extractor is not None:
            extractor, self._extractor = self._extractor, None
            extractor.finish()

    def check_links(self) -> None:
        """After every entry was checked: refuse symlinks that would resolve outside the target."""
        self.rules.check_links()

    def extract_all(self, target: Path, *, strip: str = "") -> int:
        """Extract every remaining entry below ``target``; returns the number of entries.

        :param strip: a leading folder to remove from member names (``"data/"``); the folder's
            own entry gives the attributes of ``target``.
        """
        count = 0
        try:
            for entry in self:
                if strip:
                    _strip(entry, strip)
                entry.extract(target)
                count += 1
            self.finish_extraction()
        finally:
            if self._extractor is not None:
                self._extractor.close()
                self._extractor = None
        return count

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

    Members are consumed in archive order, so tarfile only ever seeks forward. Bytes can be
    given back (:meth:`unread`): :class:`brs.tarread.FastTarInfo` returns a pax header that it
    leaves to tarfile.
    """

    def __init__(self, source: BinaryIO) -> None:
        super().__init__()
        self._source = source
        self._position = 0
        self._returned = b""
        self._read_view: Callable[[int], bytes | memoryview] = getattr(source, "read_view", source.read)

    def unread(self, data: bytes) -> None:
        """Give back ``data``, the bytes just read: the next read returns them first."""
        self._returned = data + self._returned
        self._position -= len(data)

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
        if self._returned:
            pieces.append(self._returned[:missing])
            self._returned = self._returned[missing:]
            missing -= len(pieces[0])
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

    def read_some(self, size: int, *, view: bool = False) -> bytes | memoryview:
        """At most ``size`` bytes, as one read of the source returns them (no joining copy);
        with ``view``, large ones may be a view of the source's piece (``read_view``)."""
        if self._returned:
            piece, self._returned = self._returned[:size], self._returned[size:]
            self._position += len(piece)
            return piece
        taken = self._read_view(size) if view else self._source.read(size)
        self._position += len(taken)
        return taken


class _MemberReader(RawReader):
    """A regular member's content, read straight from the archive stream.

    tarfile's own file object copies each byte twice more (its buffered reader and its
    ``readinto``); this passes on what the stream gives, whole decompressed pieces included.
    tarfile's next header read seeks forward past whatever was left unread.
    """

    def __init__(self, stream: _ForwardReader, start: int, size: int, name: str) -> None:
        super().__init__()
        self._stream, self._left, self._name = stream, size, name
        self._start: int | None = start

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(_COPY_BUFFER), b""))
        return cast(bytes, self._take(size, view=False))

    def read_view(self, size: int) -> bytes | memoryview:
        """Like :meth:`read`, but a large piece may come as a view instead of a copy (for
        consumers that only write it out: the extractor)."""
        return self._take(size, view=True)

    def _take(self, size: int, *, view: bool) -> bytes | memoryview:
        if not self._left or not size:
            return b""
        if self._start is not None:
            self._stream.seek(self._start)  # right after the header already, unless padding is left
            self._start = None
        piece = self._stream.read_some(min(size, self._left), view=view)
        if not piece:
            raise ArchiveError(f"archive member {self._name!r} is damaged: unexpected end of data")
        self._left -= len(piece)
        return piece


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
        try:
            return int(self._inner.readinto(buffer))  # type: ignore[attr-defined]
        except (tarfile.TarError, EOFError) as error:
            raise ArchiveError(f"archive member {self._name!r} is damaged: {error}") from error


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
        if not info.isreg():
            raise ArchiveError(f"stream {self._name!r}: part {info.pax_headers.get(_PART_KEY)} is not a regular file")
        self._current = self._reader.content(info, str(self._name))
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


def _strip(entry: ArchiveEntry, prefix: str) -> None:
    """Remove the leading folder ``prefix`` from the entry's name (and a hard link's target)."""

    def stripped(name: str) -> str:
        if not (name + "/").startswith(prefix):
            raise ArchiveError(f"unexpected archive member {name!r} outside {prefix!r}")
        return name[len(prefix) :].lstrip("/")

    # In place: the header is this entry's alone (the reader keeps no list of members), and a
    # copy per member costs more than the rest of the bookkeeping.
    info = entry.info
    info.name = stripped(info.name)
    if info.islnk():
        info.linkname = stripped(info.linkname)
    if entry.stream_name is not None:
        entry.stream_name = stripped(entry.stream_name)
