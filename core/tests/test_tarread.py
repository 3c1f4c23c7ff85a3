"""The fast header decoder reads every block exactly as tarfile does, damaged ones included."""

from __future__ import annotations

import io
import os
import random
import tarfile
from pathlib import Path
from typing import Any

import pytest

from brs.archive import ArchiveWriter, _ForwardReader
from brs.tarread import FastTarInfo
from brs.testing import hostile
from brs.testing.hostile import member, tar_of

_ENCODING, _ERRORS = "utf-8", "surrogateescape"  # what tarfile.open uses for brs's archives


def _fields(info: Any) -> dict[str, Any]:
    fields = {name: getattr(info, name, None) for name in tarfile.TarInfo.__slots__}
    fields.pop("tarfile", None)
    return fields


def _members(data: bytes, tarinfo: type[tarfile.TarInfo]) -> list[dict[str, Any]] | str:
    """Every member's decoded fields and pax headers, or the error that ended the reading.

    The fast decoder reads as restores do, through the archive reader's forward-only stream,
    which takes back a pax header that the fast decoder leaves to tarfile."""
    stream = _ForwardReader(io.BytesIO(data)) if tarinfo is FastTarInfo else io.BytesIO(data)
    try:
        with tarfile.open(fileobj=stream, mode="r:", tarinfo=tarinfo) as tar:
            return [{**_fields(info), "pax": dict(info.pax_headers)} for info in tar]
    except Exception as error:  # noqa: BLE001 - the kind of error is what is compared (tarfile's own ValueErrors too)
        return f"{type(error).__name__}: {error}"


def _written_tree(tmp_path: Path) -> bytes:
    source = tmp_path / "source"
    (source / "dir" / "sub").mkdir(parents=True)
    (source / "dir" / "sub" / "file").write_bytes(b"x" * 1000)
    (source / "é-ü").write_text("non-ASCII name\n")
    (source / ("long-" * 40)).write_text("a name beyond 100 bytes\n")
    (source / "empty").touch()
    os.symlink("dir/sub/file", source / "link")
    os.link(source / "empty", source / "hard")
    os.utime(source / "empty", ns=(1_700_000_000_123_456_789, 1_700_000_000_123_456_789))
    sink = io.BytesIO()
    writer = ArchiveWriter(sink)
    writer.add_path(source, "data")
    writer.add_stream("dump/all.sql", io.BytesIO(b"y" * 70_000))
    writer.close()
    return sink.getvalue()


def _other_formats() -> list[bytes]:
    archives = []
    for form in (tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT, tarfile.PAX_FORMAT):
        sink = io.BytesIO()
        with tarfile.open(fileobj=sink, mode="w", format=form) as tar:
            for name, kind in (("a" * 90 + "/" + "n" * 60, tarfile.REGTYPE), ("d/" * 60 + "x", tarfile.DIRTYPE)):
                info = tarfile.TarInfo(name)
                info.type, info.size, info.mtime = kind, 3 if kind == tarfile.REGTYPE else 0, 1_600_000_000
                if form == tarfile.GNU_FORMAT:
                    info.uid = 8**8  # base-256 number field
                tar.addfile(info, io.BytesIO(b"abc") if kind == tarfile.REGTYPE else None)
        archives.append(sink.getvalue())
    v7 = tarfile.TarInfo("olddir/")  # V7: a directory is a regular file whose name ends in "/"
    v7.type = tarfile.AREGTYPE
    archives.append(v7.tobuf(tarfile.USTAR_FORMAT) + bytes(1024))
    return archives


def _pax_block(records: bytes, kind: bytes = tarfile.XHDTYPE) -> bytes:
    """A pax header member holding ``records`` exactly as given (malformed ones too)."""
    info = tarfile.TarInfo("././@PaxHeader")
    info.type, info.size = kind, len(records)
    header = info.tobuf(tarfile.USTAR_FORMAT)
    return header + records + bytes(-len(records) % tarfile.BLOCKSIZE)


def _plain_member(name: str = "file", data: bytes = b"abc") -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mtime = len(data), 1_600_000_000
    return info.tobuf(tarfile.USTAR_FORMAT) + data + bytes(-len(data) % tarfile.BLOCKSIZE)


def _record(keyword: bytes, value: bytes) -> bytes:
    """One well-formed pax record: its length counts its own digits."""
    body = b" " + keyword + b"=" + value + b"\n"
    digits = len(str(len(body)))
    digits += len(str(len(body) + digits)) > digits
    return str(len(body) + digits).encode() + body


def _pax_archives() -> list[bytes]:
    """pax headers the fast path reads and every kind it must leave to tarfile."""
    end = bytes(2 * tarfile.BLOCKSIZE)
    sink = io.BytesIO()
    with tarfile.open(fileobj=sink, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("p" * 120)  # path, uname, numbers beyond ustar, sub-second times
        info.size, info.mtime, info.uid, info.uname = 3, 1_700_000_000.25, 8**9, "\u00fcser"
        info.pax_headers = {"atime": "1700000001.5", "comment": "\u00e9t\u00e9", "BRS.x": "1"}
        tar.addfile(info, io.BytesIO(b"abc"))
        link = tarfile.TarInfo("l")
        link.type, link.linkname = tarfile.SYMTYPE, "t" * 150
        tar.addfile(link)
    archives = [sink.getvalue()]
    for records in (
        _record(b"mtime", b"1700000000.123456789"),
        _record(b"size", b"3") + _record(b"path", b"renamed"),  # the header replaces the size
        _record(b"mtime", b"1") + _record(b"mtime", b"2"),  # the last one counts
        _record(b"mtime", b"not a number"),
        _record(b"uid", b""),  # an empty value
        _record(b"hdrcharset", b"BINARY") + _record(b"path", b"\xff\xfe"),
        _record(b"path", b"\xff\xfe"),  # not UTF-8, no hdrcharset
        _record(b"GNU.sparse.size", b"10") + _record(b"GNU.sparse.offset", b"0"),
        _record(b"GNU.sparse.major", b"1") + _record(b"GNU.sparse.minor", b"0"),
        b"5 x=\n",  # the shortest record
        b"4 x=\n",  # too short
        b"10 mtime=1\n",  # longer than the rest of the header
        b"9 mtime=1X",  # no line feed
        b"7 mtime\n",  # no "="
        b"7 =abc\n",  # no keyword
        b"x mtime=1\n",  # no length
        b"0" * 21 + b"9 a=b\n",  # more than 20 digits
        _record(b"mtime", b"1") + b"\0garbage after a NUL",
    ):
        archives.append(_pax_block(records) + _plain_member() + end)
    glob = _pax_block(_record(b"mtime", b"5"), tarfile.XGLTYPE)  # a global header before an extended one
    archives.append(glob + _pax_block(_record(b"path", b"g")) + _plain_member() + end)
    archives.append(_pax_block(_record(b"mtime", b"5"), tarfile.SOLARIS_XHDTYPE) + _plain_member() + end)
    archives.append(_pax_block(_record(b"mtime", b"5")) + b"\xff" * 512 + end)  # a damaged member after it
    archives.append(_pax_block(_record(b"mtime", b"5")) + end)  # no member after it
    return archives


def _hostile(tmp_path: Path) -> list[bytes]:
    victim = tmp_path / "victim"
    return [
        hostile.cve_2025_4517(victim),
        hostile.symlink_chain(),
        hostile.setuid_root_file(),
        hostile.hard_link_to_missing(),
        hostile.hard_link_to_symlink(),
        hostile.device_node(),
        hostile.absolute_symlink(victim),
        hostile.dotdot_member("../../escape"),
        tar_of([member("dir/file", data=b"data", mode=0o4755)], "prefix/"),
    ]


def test_whole_archives_decode_alike(tmp_path: Path) -> None:
    """brs's own archives, other tars' formats (GNU long names, base-256 numbers, ustar
    prefixes, V7 directories) and the hostile archives of the safety tests."""
    archives = [_written_tree(tmp_path), *_other_formats(), *_hostile(tmp_path)]
    for data in archives:
        fast = _members(data, FastTarInfo)
        assert fast == _members(data, tarfile.TarInfo)
        assert isinstance(fast, list) and fast


def test_pax_headers_decode_alike() -> None:
    """Plain records (read by the fast path) and every kind it leaves to tarfile: hdrcharset,
    values that are not UTF-8, GNU sparse keywords, global and Solaris headers, malformed
    records, and a damaged or missing member after the header."""
    outcomes = []
    for data in _pax_archives():
        fast = _members(data, FastTarInfo)
        assert fast == _members(data, tarfile.TarInfo), data[:1100]
        outcomes.append(fast)
    assert any(isinstance(outcome, str) and "invalid header" in outcome for outcome in outcomes)
    assert sum(isinstance(outcome, list) for outcome in outcomes) > 10


def test_damaged_pax_records_decode_alike() -> None:
    """Random damage to the records of brs's pax headers (lengths, keywords, values, line
    feeds): the same members, pax headers or error as tarfile's."""
    rng = random.Random(23)
    records = _record(b"mtime", b"1700000000.123456789") + _record(b"BRS.stream", b"dump") + _record(b"path", b"a/b")
    odd = [b" ", b"=", b"\n", b"\0", b"9", b"0", b"\xff", b"\xc3", b"x", b"."]
    for _ in range(600):
        damaged = bytearray(records)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(damaged))
            damaged[at : at + 1] = rng.choice(odd)
        data = _pax_block(bytes(damaged)) + _plain_member() + bytes(1024)
        assert _members(data, FastTarInfo) == _members(data, tarfile.TarInfo), bytes(damaged)


def _header_blocks(tmp_path: Path) -> list[bytes]:
    blocks = []
    for data in [_written_tree(tmp_path), *_other_formats()]:
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            offsets = [info.offset for info in tar]
        blocks += [data[offset : offset + tarfile.BLOCKSIZE] for offset in offsets]
    return blocks


def _decode(decoder: type[tarfile.TarInfo], block: bytes) -> dict[str, Any] | str:
    try:
        return _fields(decoder.frombuf(block, _ENCODING, _ERRORS))
    except Exception as error:  # noqa: BLE001 - the kind of error is what is compared
        return f"{type(error).__name__}: {error}"


def _with_checksum(block: bytearray) -> bytes:
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


@pytest.mark.parametrize("fix_checksum", [True, False], ids=["checksum-fixed", "checksum-stale"])
def test_damaged_and_odd_blocks_decode_alike(tmp_path: Path, fix_checksum: bool) -> None:
    """Random damage to real header blocks (numbers, names, types, high bytes that only a signed
    checksum accepts, whitespace that only str.strip knows, base-256 markers): the fast decoder
    gives the same member or the same error as tarfile's."""
    rng = random.Random(17)
    odd = [b"\x1c", b"\x80", b"\xff", b"\0", b" ", b"_", b"+", b"-", b"9", b"\xc3", b"x", b"/"]
    outcomes: set[str] = set()
    for block in _header_blocks(tmp_path):
        for _ in range(150):
            damaged = bytearray(block)
            for _ in range(rng.randint(1, 4)):
                at = rng.choice((rng.randrange(100, 160), rng.randrange(0, 512), rng.randrange(329, 345)))
                damaged[at : at + 1] = rng.choice(odd) if rng.random() < 0.8 else bytes([rng.randrange(256)])
            data = _with_checksum(damaged) if fix_checksum else bytes(damaged)
            fast, stdlib = _decode(FastTarInfo, data), _decode(tarfile.TarInfo, data)
            assert fast == stdlib, data
            outcomes.add(fast if isinstance(fast, str) else "decoded")
    assert "decoded" in outcomes
    assert any(("invalid header" if fix_checksum else "bad checksum") in outcome for outcome in outcomes)


@pytest.mark.parametrize(
    "block", [b"", b"\0" * 100, bytes(512), b"\xff" * 512], ids=["empty", "truncated", "end-of-archive", "garbage"]
)
def test_short_empty_and_garbage_blocks_fail_alike(block: bytes) -> None:
    assert _decode(FastTarInfo, block) == _decode(tarfile.TarInfo, block)
    assert isinstance(_decode(FastTarInfo, block), str)


def test_a_signed_checksum_of_old_tars_is_accepted_as_tarfile_accepts_it() -> None:
    info = tarfile.TarInfo("\u00e9t\u00e9")  # bytes above 0x7f: the signed sum differs
    block = bytearray(info.tobuf(tarfile.USTAR_FORMAT)[:512])
    block[148:156] = b" " * 8
    signed = 256 + sum(byte - 256 if byte > 127 else byte for byte in block[:148] + block[156:])
    block[148:156] = b"%06o\0 " % signed
    assert _decode(FastTarInfo, bytes(block)) == _decode(tarfile.TarInfo, bytes(block))
    assert FastTarInfo.frombuf(bytes(block), _ENCODING, _ERRORS).name == "\u00e9t\u00e9"
