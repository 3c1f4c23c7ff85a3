"""The tar layer: streams split into parts, safe extraction, attributes kept."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from brs import archive as archive_module
from brs.archive import ArchiveReader, ArchiveWriter
from brs.errors import ArchiveError
from brs.testing import make_tree, tree_snapshot
from brs.testing.hostile import member as tar_member
from brs.testing.hostile import tar_of


def _write(build: object) -> bytes:
    sink = io.BytesIO()
    writer = ArchiveWriter(sink)  # type: ignore[arg-type]
    build(writer)  # type: ignore[operator]
    writer.close()
    return sink.getvalue()


def test_a_tree_round_trips_with_modes_links_and_mtimes(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "source", big_file_size=3 << 20)
    data = _write(lambda w: w.add_path(source, "data"))
    target = tmp_path / "target"
    target.mkdir()
    ArchiveReader(io.BytesIO(data), keep_special_bits=True).extract_all(target, strip="data/")
    assert tree_snapshot(target) == tree_snapshot(source)
    assert stat.S_IMODE((target / "odd-mode").stat().st_mode) == stat.S_IMODE((source / "odd-mode").stat().st_mode)


def test_a_stream_is_split_into_parts_and_joined_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive_module, "STREAM_PART_SIZE", 1000)
    payload = os.urandom(4500)
    data = _write(
        lambda w: (w.add_bytes("before.txt", b"b"), w.add_stream("dump.sql", io.BytesIO(payload)), w.add_bytes("after.txt", b"a"))
    )
    with tarfile.open(fileobj=io.BytesIO(data)) as plain:
        names = plain.getnames()
    assert names == ["before.txt"] + [f"dump.sql.part-{i:06d}" for i in range(5)] + ["after.txt"]
    reader = ArchiveReader(io.BytesIO(data))
    seen = {}
    for entry in reader:
        with entry.open() as handle:
            seen[entry.name] = handle.read()
    assert seen == {"before.txt": b"b", "dump.sql": payload, "after.txt": b"a"}


def test_an_empty_stream_is_one_empty_member() -> None:
    data = _write(lambda w: w.add_stream("empty", io.BytesIO(b"")))
    entries = list(ArchiveReader(io.BytesIO(data)))
    assert [e.name for e in entries] == ["empty"]


def test_an_unread_stream_is_skipped_cleanly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive_module, "STREAM_PART_SIZE", 100)
    data = _write(lambda w: (w.add_stream("s", io.BytesIO(os.urandom(1000))), w.add_bytes("last", b"x")))
    assert [e.name for e in ArchiveReader(io.BytesIO(data))] == ["s", "last"]


def _hostile(member: tarfile.TarInfo, content: bytes = b"evil") -> bytes:
    sink = io.BytesIO()
    with tarfile.open(fileobj=sink, mode="w") as tar:
        member.size = len(content) if member.isreg() else 0
        tar.addfile(member, io.BytesIO(content) if member.isreg() else None)
    return sink.getvalue()


@pytest.mark.parametrize(
    "member",
    [
        tarfile.TarInfo("../escape.txt"),
        tarfile.TarInfo("/etc/absolute.txt"),
        tarfile.TarInfo("a/../../escape.txt"),
    ],
    ids=["dotdot", "absolute", "nested-dotdot"],
)
def test_members_outside_the_target_are_refused(tmp_path: Path, member: tarfile.TarInfo) -> None:
    target = tmp_path / "target"
    target.mkdir()
    with pytest.raises(ArchiveError, match="outside"):
        ArchiveReader(io.BytesIO(_hostile(member))).extract_all(target)
    assert not (tmp_path / "escape.txt").exists()


def test_absolute_and_escaping_links_and_devices_are_refused(tmp_path: Path) -> None:
    absolute = tarfile.TarInfo("link")
    absolute.type, absolute.linkname = tarfile.SYMTYPE, "/etc/passwd"
    escaping = tarfile.TarInfo("link2")
    escaping.type, escaping.linkname = tarfile.SYMTYPE, "../../outside"
    device = tarfile.TarInfo("dev")
    device.type, device.devmajor, device.devminor = tarfile.CHRTYPE, 1, 3
    for member in (absolute, escaping, device):
        target = tmp_path / member.name
        target.mkdir()
        with pytest.raises(ArchiveError):
            ArchiveReader(io.BytesIO(_hostile(member))).extract_all(target)
        assert list(target.iterdir()) == []


def test_a_cut_archive_raises_archive_error(tmp_path: Path) -> None:
    data = _write(lambda w: w.add_bytes("big", os.urandom(100_000)))
    reader = ArchiveReader(io.BytesIO(data[:50_000]))
    with pytest.raises(ArchiveError):
        for entry in reader:
            entry.open().read()


def test_not_a_tar_stream_raises_archive_error() -> None:
    with pytest.raises(ArchiveError):
        list(ArchiveReader(io.BytesIO(b"\x01" * 5000)))


def test_a_stream_through_the_pipeline_channel_keeps_every_part(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parts are handed to the sink as views of one reused buffer: the channel must get copies."""
    import threading

    from brs.pipeline import Channel, ChannelWriter

    monkeypatch.setattr(archive_module, "STREAM_PART_SIZE", 3000)
    payload = os.urandom(20_000)
    channel = Channel(threading.Event(), depth=1000)
    sink = ChannelWriter(channel, piece_size=1024)
    writer = ArchiveWriter(sink)  # type: ignore[arg-type]
    writer.add_stream("dump.sql", io.BytesIO(payload))
    writer.close()
    sink.finish()
    data = b"".join(iter(channel))
    seen = {}
    for entry in ArchiveReader(io.BytesIO(data)):
        with entry.open() as handle:
            seen[entry.name] = handle.read()
    assert seen == {"dump.sql": payload}


def test_files_read_straight_into_the_pipeline_make_the_same_archive(tmp_path: Path) -> None:
    """Through the pipeline's channel, file content is read into its pieces directly; the tar
    stream must be byte for byte what a plain sink gets, whatever the sizes and alignment."""
    import threading

    from brs.pipeline import Channel, ChannelWriter

    root = tmp_path / "tree"
    root.mkdir()
    for size in (0, 1, 511, 512, 1023, 1024, 1025, 4096 * 3 + 7, 70_001):
        (root / f"f{size}").write_bytes(os.urandom(size))
    plain = io.BytesIO()
    ArchiveWriter(plain).add_path(root, "tree")
    channel = Channel(threading.Event(), depth=10_000)
    sink = ChannelWriter(channel, piece_size=1024)
    through = ArchiveWriter(sink)  # type: ignore[arg-type]
    through.add_path(root, "tree")
    sink.finish()
    pieces = list(channel)
    assert all(len(piece) == 1024 for piece in pieces[:-1])
    assert b"".join(pieces) == plain.getvalue()


def test_a_file_that_shrinks_while_read_into_the_pipeline_is_padded_with_zeros(tmp_path: Path) -> None:
    """The header promised the size it had; the missing end is stored as zeros, never as the
    previous content of the reused piece buffer."""
    import threading

    from brs.pipeline import Channel, ChannelWriter

    path = tmp_path / "shrinking"
    path.write_bytes(b"x" * 5000)
    from brs import walk as walk_module

    channel = Channel(threading.Event(), depth=10_000)
    sink = ChannelWriter(channel, piece_size=1024)
    sink.write(b"\xff" * 1024 * 3)  # dirty pieces first: the zeros must be written, not assumed
    writer = ArchiveWriter(sink)  # type: ignore[arg-type]
    for item in walk_module.walk(path, "shrinking"):
        path.write_bytes(b"y" * 100)  # truncated after the header was built, before the content is read
        writer._add(item.info, item.content)
    writer.close()
    sink.finish()
    data = b"".join(channel)[1024 * 3 :]
    entries = {entry.name: entry.open().read() for entry in ArchiveReader(io.BytesIO(data))}
    assert entries == {"shrinking": b"y" * 100 + bytes(4900)}


@pytest.mark.parametrize("piece", [4096, 100_000, 1 << 18])
def test_files_extracted_from_views_of_the_pieces_are_whole(tmp_path: Path, piece: int) -> None:
    """Restores hand large reads of the decompressed pieces to the writers as views, not copies:
    every file, around and across the pieces' boundaries, is written whole and in order."""
    from brs.pipeline import VIEW_MIN, PieceReader

    sizes = (0, 1, VIEW_MIN - 1, VIEW_MIN, VIEW_MIN + 1, 3 * VIEW_MIN + 7, 1 << 18, (1 << 18) + 1, 700_000, 5)
    contents = {f"d/m{n}": os.urandom(size) for n, size in enumerate(sizes)}
    data = tar_of([tar_member(name, data=content) for name, content in contents.items()])
    source = PieceReader(data[i : i + piece] for i in range(0, len(data), piece))
    reader = ArchiveReader(source)  # type: ignore[arg-type]
    (tmp_path / "out").mkdir()
    assert reader.extract_all(tmp_path / "out") == len(contents)
    assert {name: (tmp_path / "out" / name).read_bytes() for name in contents} == contents


def test_members_read_in_part_or_not_at_all_leave_the_next_ones_intact() -> None:
    """Content is read straight from the stream; whatever a reader leaves is skipped, and a
    member whose content was cut off is an archive error, not short data."""
    contents = {f"m{n}": os.urandom(size) for n, size in enumerate((0, 1, 700, 70_000, 3, 513))}
    data = tar_of([tar_member(name, data=content) for name, content in contents.items()])
    seen = {}
    for index, entry in enumerate(ArchiveReader(io.BytesIO(data))):
        with entry.open() as handle:
            if index % 2:
                seen[entry.name] = handle.read(100) + handle.read()
            else:
                seen[entry.name] = handle.read(min(50, len(contents[entry.name])))
    assert seen == {name: content if index % 2 else content[:50] for index, (name, content) in enumerate(contents.items())}
    with pytest.raises(ArchiveError, match="'m3' is damaged"):
        for entry in ArchiveReader(io.BytesIO(data[: data.index(contents["m3"]) + 1000])):
            with entry.open() as handle:
                handle.read()
