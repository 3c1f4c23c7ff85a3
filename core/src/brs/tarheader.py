"""Encoding of one tar member's header, byte for byte what :mod:`tarfile` writes in pax format.

Hand-written because ``TarInfo.tobuf`` builds every header through dictionaries, a copy of the
member and two ``struct`` passes per 512-byte block, and it writes a pax header for nearly every
member (the sub-second mtime). On a data directory of small files that was the busiest part of
a backup's tar stage. :func:`member_header` covers the members a backup writes (files,
directories, symlinks and hard links with ASCII names); anything else goes to ``tobuf`` itself,
so the stored format is exactly the one :mod:`tarfile` (and GNU tar) reads.
"""

from __future__ import annotations

import struct
import tarfile
import zlib

__all__ = ["ENCODING", "block_sum", "member_header"]

#: The encoding of names that :class:`tarfile.TarFile` uses by default (and brs always has).
ENCODING = "utf-8"
_BLOCK = tarfile.BLOCKSIZE
_FAST_TYPES = frozenset((tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE))
# name, mode, uid, gid, size, mtime, checksum (spaces while summing), type, linkname, magic,
# uname, gname; then devmajor, devminor and prefix stay empty (NUL) up to the block's end.
_LAYOUT = struct.Struct("100s8s8s8s12s12s8sc100s8s32s32s183x")
_CHECKSUM_AT = 148
_MAX_ID = 8**7  # 7 octal digits
_MAX_NUMBER = 8**11  # 11 octal digits (size, mtime)
_NO_NUMBER = b"0000000\0"
_NO_MTIME = b"00000000000\0"


def member_header(info: tarfile.TarInfo) -> bytes:
    """The header blocks of ``info``, equal to ``info.tobuf(tarfile.PAX_FORMAT, ENCODING)``."""
    name = info.name
    if info.type == tarfile.DIRTYPE and not name.endswith("/"):
        name += "/"
    mtime = info.mtime
    whole_mtime = round(mtime) if isinstance(mtime, float) else mtime
    if (
        info.pax_headers
        or info.type not in _FAST_TYPES
        or not (name.isascii() and info.linkname.isascii() and info.uname.isascii() and info.gname.isascii())
        or len(info.uname) > 32
        or len(info.gname) > 32
        or not (0 <= info.uid < _MAX_ID and 0 <= info.gid < _MAX_ID and 0 <= info.size < _MAX_NUMBER)
        or not 0 <= whole_mtime < _MAX_NUMBER
    ):
        return info.tobuf(tarfile.PAX_FORMAT, ENCODING, "surrogateescape")
    # The order of records is tarfile's: path, linkpath, then mtime.
    records = []
    if len(name) > 100:
        records.append(_record("path", name))
    if len(info.linkname) > 100:
        records.append(_record("linkpath", info.linkname))
    if isinstance(mtime, float):
        records.append(_record("mtime", str(mtime)))
    header = _block(
        name.encode("ascii"),
        b"%07o\0" % (info.mode & 0o7777),
        b"%07o\0" % info.uid,
        b"%07o\0" % info.gid,
        b"%011o\0" % info.size,
        b"%011o\0" % whole_mtime,
        info.type,
        info.linkname.encode("ascii"),
        info.uname.encode("ascii"),
        info.gname.encode("ascii"),
    )
    if not records:
        return header
    payload = b"".join(records)
    size = b"%011o\0" % len(payload)
    pax = _block(b"././@PaxHeader", _NO_NUMBER, _NO_NUMBER, _NO_NUMBER, size, _NO_MTIME, tarfile.XHDTYPE)
    return pax + payload + bytes(-len(payload) % _BLOCK) + header


def _block(
    name: bytes,
    mode: bytes,
    uid: bytes,
    gid: bytes,
    size: bytes,
    mtime: bytes,
    kind: bytes,
    linkname: bytes = b"",
    uname: bytes = b"",
    gname: bytes = b"",
) -> bytes:
    """One ustar header block; fields longer than their slot are cut, as tarfile does."""
    block = bytearray(
        _LAYOUT.pack(name, mode, uid, gid, size, mtime, b"        ", kind, linkname, tarfile.POSIX_MAGIC, uname, gname)
    )
    # The checksum counts its own field as spaces, which is what the block holds now.
    block[_CHECKSUM_AT : _CHECKSUM_AT + 7] = b"%06o\0" % block_sum(block)
    return bytes(block)


def block_sum(block: bytes | bytearray) -> int:
    """The sum of the bytes of a 512-byte block, as the tar header checksum counts them.

    Adler-32's first half is 1 plus the sum of the bytes modulo 65521; for 256 bytes (at most
    65280) the modulo never applies, so two C calls sum the block exactly, in a third of the
    time of ``sum()`` over its 512 integers (a backup's tar thread did that twice per member
    while holding the interpreter's lock).
    """
    with memoryview(block) as view:
        return (zlib.adler32(view[:256]) & 0xFFFF) + (zlib.adler32(view[256:]) & 0xFFFF) - 2


def _record(keyword: str, value: str) -> bytes:
    """A pax record ``"<length> <keyword>=<value>\\n"`` whose length counts its own digits."""
    body = f" {keyword}={value}\n".encode()
    size = previous = 0
    while True:  # tarfile's fixed point: the digits of the length are part of the length
        size = len(body) + len(str(previous))
        if size == previous:
            return b"%d" % size + body
        previous = size
