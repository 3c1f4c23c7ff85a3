"""Decoding of tar header blocks: field for field what :mod:`tarfile` decodes, in less time.

Hand-written because a restore spent more of its interpreter time in ``TarInfo.frombuf`` than
anywhere else (py-spy ``--gil`` of a 512 MiB restore: a third of the samples that held the
interpreter's lock were under ``TarFile.next``, which every other thread of the restore waits
for): its checksum unpacks the block's 504 bytes twice through ``struct``, and each field goes
through ``nts``/``nti``. :class:`FastTarInfo` replaces ``frombuf``, the decoding of one
512-byte block, and hands everything unusual (base-256 numbers, signed checksums, odd
whitespace, GNU sparse headers) to tarfile's own functions.

It also reads the common pax header itself: brs writes one per member (for the sub-second
mtime), and tarfile's ``_proc_pax`` (a regular expression, two decodings and a dictionary copy
per record) became the largest part of a restore's parsing once ``frombuf`` was fast. Only an
extended header of plain records (UTF-8, no ``hdrcharset``, no GNU sparse keywords, no global
headers before it) read from a stream that can take bytes back goes this way; any other goes
back to the stream and through tarfile's own code. GNU long names and the order of processing
stay tarfile's. Tests compare both decoders on valid, hostile and damaged archives.
"""

from __future__ import annotations

import tarfile
from typing import Any

from brs.tarheader import block_sum

__all__ = ["FastTarInfo"]

_BLOCK = tarfile.BLOCKSIZE
_CHECKSUM = slice(148, 156)
#: tarfile's header errors and decoding helpers: not public, and not in its type stubs, but
#: ``TarFile.next`` tells the end of an archive from damage by exactly these classes.
_tarfile: Any = tarfile


class FastTarInfo(tarfile.TarInfo):
    """A :class:`tarfile.TarInfo` whose header blocks decode faster (pass it as ``tarinfo=``)."""

    def _proc_pax(self, tar: Any) -> Any:
        """The member a pax extended header describes, as tarfile's ``_proc_pax`` gives it."""
        unread = getattr(tar.fileobj, "unread", None)
        if self.type != tarfile.XHDTYPE or tar.pax_headers or unread is None:
            return super()._proc_pax(tar)  # type: ignore[misc]
        buf = tar.fileobj.read(self._block(self.size))  # type: ignore[attr-defined]
        headers = _plain_records(buf)
        if headers is None:
            unread(buf)
            return super()._proc_pax(tar)  # type: ignore[misc]
        try:
            member = self.fromtarfile(tar)
        except _tarfile.HeaderError as error:
            raise _tarfile.SubsequentHeaderError(str(error)) from None
        member._apply_pax_info(headers, tar.encoding, tar.errors)  # type: ignore[attr-defined]
        member.offset = self.offset
        if "size" in headers:
            # The header replaces the size field: the next header lies elsewhere.
            offset = member.offset_data
            if member.isreg() or member.type not in tarfile.SUPPORTED_TYPES:
                offset += member._block(member.size)  # type: ignore[attr-defined]
            tar.offset = offset
        return member

    @classmethod
    def frombuf(cls, buf: bytes | bytearray, encoding: str, errors: str) -> Any:
        """The member one header block describes, equal to :meth:`tarfile.TarInfo.frombuf`'s."""
        if len(buf) == 0:
            raise _tarfile.EmptyHeaderError("empty header")
        if len(buf) != _BLOCK:
            raise _tarfile.TruncatedHeaderError("truncated header")
        if buf.count(b"\0") == _BLOCK:
            raise _tarfile.EOFHeaderError("end of file header")
        kind = bytes(buf[156:157])
        if kind == tarfile.GNUTYPE_SPARSE:
            return super().frombuf(buf, encoding, errors)  # old GNU sparse structures: rare

        checksum = _number(buf[_CHECKSUM])
        # Unsigned sum with the checksum field counted as spaces; tarfile also accepts the
        # signed sum that some old tars wrote, which only its own function computes.
        if checksum != _unsigned_sum(buf) and checksum not in _tarfile.calc_chksums(buf):
            raise _tarfile.InvalidHeaderError("bad checksum")

        obj = cls()
        obj.name = buf[0:100].partition(b"\0")[0].decode(encoding, errors)
        obj.mode = _number(buf[100:108])
        obj.uid = _number(buf[108:116])
        obj.gid = _number(buf[116:124])
        obj.size = _number(buf[124:136])
        obj.mtime = _number(buf[136:148])
        obj.chksum = checksum
        obj.type = kind
        obj.linkname = buf[157:257].partition(b"\0")[0].decode(encoding, errors)
        obj.uname = buf[265:297].partition(b"\0")[0].decode(encoding, errors)
        obj.gname = buf[297:329].partition(b"\0")[0].decode(encoding, errors)
        obj.devmajor = _number(buf[329:337])
        obj.devminor = _number(buf[337:345])
        prefix = buf[345:500].partition(b"\0")[0].decode(encoding, errors)

        # Old V7 tar format represents a directory as a regular file with a trailing slash.
        if kind == tarfile.AREGTYPE and obj.name.endswith("/"):
            obj.type = tarfile.DIRTYPE
        if obj.type == tarfile.DIRTYPE:
            obj.name = obj.name.rstrip("/")
        # Reconstruct a ustar long name.
        if prefix and obj.type not in tarfile.GNU_TYPES:
            obj.name = prefix + "/" + obj.name
        return obj


def _plain_records(buf: bytes) -> dict[str, str] | None:
    """The pax records of ``buf`` (``"%d %s=%s\\n"``, up to a NUL or the end), or ``None`` for
    anything tarfile's own code must decide: a malformed record, a value that is not UTF-8,
    ``hdrcharset`` or GNU sparse keywords."""
    headers: dict[str, str] = {}
    position, end = 0, len(buf)
    while position < end and buf[position]:
        space = buf.find(b" ", position, position + 21)  # up to 20 digits, as tarfile reads
        digits = buf[position:space] if space > position else b""
        if not digits.isdigit():  # bytes.isdigit: ASCII digits only
            return None
        length = int(digits)
        last = position + length - 1
        if length < 5 or last >= end or buf[last] != 0x0A:
            return None
        keyword, equals, value = buf[space + 1 : last].partition(b"=")
        if not keyword or not equals or keyword == b"hdrcharset" or keyword.startswith(b"GNU.sparse."):
            return None
        try:
            headers[keyword.decode("ascii")] = value.decode("utf-8")
        except UnicodeDecodeError:
            return None
        position += length
    return headers


def _unsigned_sum(block: bytes | bytearray) -> int:
    """The header checksum as tarfile's unsigned variant: the sum of the bytes, with the
    checksum field's eight counted as spaces."""
    return block_sum(block) + 256 - sum(block[_CHECKSUM])


def _number(field: bytes | bytearray) -> int:
    """A numeric field as :func:`_tarfile.nti` reads it.

    ``int`` parses the octal digits from bytes directly (it skips leading whitespace itself);
    whatever it refuses (base-256, non-ASCII, a NUL before the end, whitespace that only
    ``str.strip`` knows) goes to ``nti`` itself, which decides alike.
    """
    if field[0] not in (0o200, 0o377):
        try:
            return int(field.rstrip(b"\0 ") or b"0", 8)
        except ValueError:
            pass
    return int(_tarfile.nti(field))
