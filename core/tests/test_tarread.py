"""The fast header decoder reads every block exactly as tarfile does, damaged ones included."""

from __future__ import annotations

import io
import os
import random
import tarfile
from pathlib import Path
from typing import Any

import pytest

from brs.archive import ArchiveWriter
from brs.tarread import FastTarInfo
from brs.testing import hostile
from brs.testing.hostile import member, tar_of

_ENCODING, _ERRORS = "utf-8", "surrogateescape"  # what tarfile.open uses for brs's archives


def _fields(info: Any) -> dict[str, Any]:
    fields = {name: getattr(info, name, None) for name in tarfile.TarInfo.__slots__}
    fields.pop("tarfile", None)
    return fields


def _members(data: bytes, tarinfo: type[tarfile.TarInfo]) -> list[dict[str, Any]] | str:
    """Every member's decoded fields, or the error that ended the reading."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:", tarinfo=tarinfo) as tar:
            return [_fields(info) for info in tar]
    except tarfile.TarError as error:
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
