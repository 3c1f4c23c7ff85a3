"""The backup's tar writer stores exactly what tarfile writes in pax format (the stored format)."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from brs.archive import ArchiveWriter
from brs.tarheader import ENCODING, member_header
from brs.testing import make_tree
from brs.walk import walk


def _info(name: str, kind: bytes = tarfile.REGTYPE, **fields: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    for key, value in fields.items():
        setattr(info, key, value)
    return info


@pytest.mark.parametrize(
    "info",
    [
        _info("plain", size=12345, mtime=1_700_000_000, uname="postgres", gname="postgres", uid=999, gid=999),
        _info("fraction", size=1, mtime=1_732_612_345.123456),
        _info("rounds-up", mtime=1_732_612_345.9999999),
        _info("dir", tarfile.DIRTYPE, mode=0o40755, mtime=1.5),
        _info("dir-with-slash/", tarfile.DIRTYPE, mtime=2.25),
        _info("link", tarfile.SYMTYPE, linkname="../target", mtime=3.0),
        _info("hard", tarfile.LNKTYPE, linkname="plain"),
        _info("deep/" * 30 + "name", size=7, mtime=4.125),
        _info("long-link", tarfile.SYMTYPE, linkname="x/" * 70, mtime=5.5),
        _info("n" * 100, mtime=6.5),
        _info("n" * 99 + "/", tarfile.DIRTYPE, mtime=7.5),
        _info("set-bits", mode=0o107755, mtime=0),
        # Outside the fast path: tarfile's own encoder must give the same bytes.
        _info("naïve-ü", size=3, mtime=8.5),
        _info("owner", uname="u" * 33, mtime=9.5),
        _info("huge", size=8**11, mtime=10.5),
        _info("big-id", uid=8**7, gid=8**7 + 1),
        _info("stream.part-000000", mtime=11, pax_headers={"BRS.stream": "stream", "BRS.part": "0"}),
        _info("fifo", tarfile.FIFOTYPE, mtime=12.5),
        _info("before-1970", mtime=-1.5),
        _info("far-future", mtime=float(8**11)),
    ],
    ids=lambda info: info.name[:24],
)
def test_a_header_is_byte_for_byte_what_tarfile_writes(info: tarfile.TarInfo) -> None:
    assert member_header(info) == info.tobuf(tarfile.PAX_FORMAT, ENCODING, "surrogateescape")


def test_a_backup_of_a_tree_is_the_stream_tarfile_would_write(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "source", big_file_size=3 << 20)
    (source / ("long-" * 30)).mkdir()
    (source / ("long-" * 30) / "file").write_bytes(b"x" * 513)
    os.utime(source / ("long-" * 30) / "file", ns=(1, 1_700_000_000_123_456_789))

    ours = io.BytesIO()
    writer = ArchiveWriter(ours)  # type: ignore[arg-type]
    writer.add_path(source, "data")
    writer.add_bytes("meta.json", b"{}")
    writer.close()

    theirs = io.BytesIO()
    with tarfile.open(fileobj=theirs, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for found in walk(source, "data"):
            tar.addfile(found.info, found.content)  # type: ignore[arg-type]
        meta = tarfile.TarInfo("meta.json")
        meta.size, meta.mtime = 2, _member_mtime(ours.getvalue(), "meta.json")
        tar.addfile(meta, io.BytesIO(b"{}"))

    assert writer.members == len(list(walk(source, "data"))) + 1
    assert ours.getvalue() == theirs.getvalue()


def _member_mtime(archive: bytes, name: str) -> int:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return int(tar.getmember(name).mtime)
