"""Extraction stays inside its target and keeps what a restore must keep."""

from __future__ import annotations

import io
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
from decimal import Decimal
from pathlib import Path

import pytest

from brs.archive import ArchiveReader, ArchiveWriter
from brs.errors import ArchiveError
from brs.testing import hostile
from brs.testing.hostile import member, tar_of


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file outside the target that no extraction may touch."""
    path = tmp_path / "outside" / "victim.txt"
    path.parent.mkdir()
    path.write_text("original\n")
    os.utime(path, (1_000_000_000, 1_000_000_000))
    return path


@pytest.fixture
def target(tmp_path: Path) -> Path:
    path = tmp_path / "target"
    path.mkdir()
    return path


def _extract(data: bytes, target: Path, **options: bool) -> None:
    ArchiveReader(io.BytesIO(data), **options).extract_all(target)


def _verify(data: bytes) -> None:
    """What ``brs verify`` runs on each entry, then on the symlinks."""
    reader = ArchiveReader(io.BytesIO(data))
    for entry in reader:
        entry.check()
    reader.check_links()


def _assert_untouched(victim: Path) -> None:
    assert victim.read_text() == "original\n"
    assert victim.stat().st_mtime == 1_000_000_000
    assert sorted(os.listdir(victim.parent)) == [victim.name]


def _refused(data: bytes, target: Path, victim: Path, message: str) -> None:
    with pytest.raises(ArchiveError, match=message) as raised:
        _extract(data, target)
    assert "\n" not in str(raised.value)
    with pytest.raises(ArchiveError, match=message):
        _verify(data)
    _assert_untouched(victim)


def test_the_cve_2025_4517_path_length_trick_is_refused(target: Path, victim: Path) -> None:
    _refused(hostile.cve_2025_4517(victim), target, victim, "lies beneath the symlink 'a'")


def test_a_symlink_chain_that_ends_outside_is_refused_and_removed(target: Path, victim: Path) -> None:
    _refused(hostile.symlink_chain(), target, victim, "'A' is a symlink that resolves outside")
    assert not os.path.lexists(target / "A")


def test_a_long_symlink_loop_is_refused(target: Path) -> None:
    loop = [
        member("x", tarfile.SYMTYPE, link="y/z"),
        member("y", tarfile.SYMTYPE, link="."),
        member("z", tarfile.SYMTYPE, link="x"),
    ]
    data = tar_of(loop)
    with pytest.raises(ArchiveError, match="longer than 40 links"):
        _extract(data, target)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (hostile.hard_link_to_missing, "not a regular file extracted earlier"),
        (hostile.hard_link_to_symlink, "not a regular file extracted earlier"),
        (hostile.device_node, "device file or FIFO"),
    ],
    ids=["hard-link-to-missing", "hard-link-to-symlink", "device"],
)
def test_links_to_what_the_archive_did_not_extract_and_devices_are_refused(
    target: Path, victim: Path, build: object, message: str
) -> None:
    _refused(build(), target, victim, message)  # type: ignore[operator]


def test_absolute_symlinks_and_dotdot_names_are_refused(tmp_path: Path, target: Path, victim: Path) -> None:
    _refused(hostile.absolute_symlink(victim), target, victim, "absolute symlink")
    _refused(hostile.dotdot_member("../outside/victim.txt"), target, victim, "outside the target directory")


def test_a_hard_link_to_a_name_replaced_later_is_refused(target: Path, victim: Path) -> None:
    data = tar_of([member("f", data=b"x"), member("f", tarfile.SYMTYPE, link="g"), member("h", tarfile.LNKTYPE, link="f")])
    _refused(data, target, victim, "'h' is a hard link to 'f'")


def test_a_member_never_writes_through_an_existing_link(target: Path) -> None:
    """A regular member replaces a symlink or hard link of its name instead of writing into
    the file behind it."""
    data = tar_of(
        [
            member("kept", data=b"kept\n"),
            member("sym", tarfile.SYMTYPE, link="kept"),
            member("sym", data=b"new\n"),
            member("hard", tarfile.LNKTYPE, link="kept"),
            member("hard", data=b"new too\n"),
        ]
    )
    _extract(data, target)
    assert (target / "kept").read_bytes() == b"kept\n"
    assert (target / "sym").read_bytes() == b"new\n" and not (target / "sym").is_symlink()
    assert (target / "hard").read_bytes() == b"new too\n"


def test_special_bits_are_cleared_unless_asked_for(tmp_path: Path) -> None:
    data = hostile.setuid_root_file()
    for keep, expected in ((False, (0o755, 0o777)), (True, (0o6755, 0o1777))):
        target = tmp_path / f"keep-{keep}"
        target.mkdir()
        _extract(data, target, keep_special_bits=keep)
        assert stat.S_IMODE((target / "suid").stat().st_mode) == expected[0]
        assert stat.S_IMODE((target / "shared").stat().st_mode) == expected[1]
        assert stat.S_IMODE((target / "plain").stat().st_mode) == 0o640


def test_attributes_hard_links_and_deep_paths_are_kept(tmp_path: Path, target: Path) -> None:
    """Modes, owners, sub-second mtimes, hard links and paths longer than PATH_MAX."""
    source = tmp_path / "source"
    source.mkdir()
    (source / "a").write_bytes(b"content")
    os.chmod(source / "a", 0o604)
    os.utime(source / "a", ns=(1_500_000_000_123_456_789, 1_500_000_000_123_456_789))
    os.link(source / "a", source / "b")
    (source / "dir").mkdir(mode=0o750)
    os.utime(source / "dir", (1_200_000_000, 1_200_000_000))
    sink = io.BytesIO()
    writer = ArchiveWriter(sink)
    writer.add_path(source, "data")
    writer.close()
    sink.seek(0)
    deep_members = "/".join(["n" * 200] * 25)  # 5000 characters: beyond PATH_MAX
    extra = tar_of([member(deep_members + "/leaf", data=b"deep")], "data/")
    ArchiveReader(sink).extract_all(target, strip="data/")
    a, b = (target / "a").stat(), (target / "b").stat()
    assert a.st_ino == b.st_ino and a.st_nlink == 2
    assert stat.S_IMODE(a.st_mode) == 0o604
    assert abs(a.st_mtime_ns - 1_500_000_000_123_456_789) < 1000  # the pax header keeps microseconds
    assert stat.S_IMODE((target / "dir").stat().st_mode) == 0o750
    assert (target / "dir").stat().st_mtime == 1_200_000_000
    deep_target = tmp_path / "deep"
    deep_target.mkdir()
    ArchiveReader(io.BytesIO(extra)).extract_all(deep_target, strip="data/")
    fd = os.open(deep_target, os.O_RDONLY)
    try:
        for part in deep_members.split("/"):
            next_fd = os.open(part, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = next_fd
        assert os.stat("leaf", dir_fd=fd).st_size == 4
    finally:
        os.close(fd)


def test_streams_extract_as_one_file(target: Path) -> None:
    sink = io.BytesIO()
    writer = ArchiveWriter(sink)
    writer.add_stream("dump/all.sql", io.BytesIO(b"x" * 10_000), mode=0o600)
    writer.close()
    sink.seek(0)
    _extract(sink.getvalue(), target)
    assert (target / "dump" / "all.sql").read_bytes() == b"x" * 10_000
    assert stat.S_IMODE((target / "dump" / "all.sql").stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("field", "kind", "message"),
    [("path", tarfile.REGTYPE, "NUL byte"), ("linkpath", tarfile.SYMTYPE, "no file system can hold")],
    ids=["nul-in-name", "nul-in-link"],
)
def test_names_no_file_system_can_hold_are_refused(target: Path, victim: Path, field: str, kind: bytes, message: str) -> None:
    info, data = member("plain", kind, link="plain")
    info.pax_headers = {field: "bad\x00name"}  # a ustar field would end at the NUL; a pax record does not
    _refused(tar_of([(info, data)]), target, victim, message)


def test_large_restored_files_are_handed_to_the_disk_as_they_are_written(tmp_path: Path) -> None:
    """A real process under strace: every byte of a file of 1 MiB or more is handed to the
    disk while the restore runs (writeback started per 8 MiB and at the file's end), so the
    sync before the swap has little left and dirty pages stay few; small files are left to
    the kernel."""
    strace = shutil.which("strace")
    assert strace, "strace is not installed (make system-deps)"
    big, small = os.urandom(20 << 20), b"small\n"
    archive = tmp_path / "archive.tar"
    archive.write_bytes(tar_of([member("big.bin", data=big), member("small.txt", data=small)]))
    target = tmp_path / "target"
    target.mkdir()
    script = (
        "import sys; from brs.archive import ArchiveReader\nArchiveReader(open(sys.argv[1], 'rb')).extract_all(sys.argv[2])\n"
    )
    trace = tmp_path / "trace"
    subprocess.run(
        [strace, "-f", "-qq", "-o", str(trace), "-e", "trace=fadvise64", sys.executable, "-c", script, str(archive), str(target)],
        check=True,
    )
    ranges = [
        (int(found[1]), int(found[2]))
        for found in re.finditer(r"fadvise64\(\d+, (\d+), (\d+), POSIX_FADV_DONTNEED\)", trace.read_text())
    ]
    assert sorted(ranges) == [(0, 8 << 20), (8 << 20, 8 << 20), (16 << 20, 4 << 20)], trace.read_text()
    assert (target / "big.bin").read_bytes() == big and (target / "small.txt").read_bytes() == small


_MODES = (0o644, 0o666, 0o600, 0o755, 0o400, 0o000, 0o777)


def _wide_tree(directories: int) -> tuple[bytes, dict[str, tuple[bytes, int]]]:
    """A tar of many directories, each with small files (empty, a few bytes, just under and
    over one piece) of assorted modes: more directories than the extractor keeps open."""
    members, expected = [], {}
    for n in range(directories):
        members.append(member(f"d{n:04}", tarfile.DIRTYPE, mode=0o755))
        for k, size in enumerate((0, 7, (256 << 10) - 1, (256 << 10) + 1)):
            name, data, mode = (
                f"d{n:04}/f{k}",
                os.urandom(size) if n % 50 == 0 else bytes([n % 251]) * size,
                _MODES[(n + k) % len(_MODES)],
            )
            members.append(member(name, data=data, mode=mode))
            expected[name] = (data, mode)
    return tar_of(members), expected


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o000], ids=["022", "077", "000"])
def test_a_wide_tree_keeps_every_file_and_mode_under_any_umask(tmp_path: Path, umask: int) -> None:
    """Small files travel to the writers in batches, are created with their final mode when the
    umask allows it, and their directories' descriptors are released behind them: the content
    and mode of every file are exact, and no descriptor is left open."""
    data, expected = _wide_tree(120)
    archive = tmp_path / "wide.tar"
    archive.write_bytes(data)
    target = tmp_path / "target"
    target.mkdir()
    script = (
        "import os, sys\nfrom brs.archive import ArchiveReader\n"
        "os.umask(int(sys.argv[3], 8)); before = len(os.listdir('/proc/self/fd'))\n"
        "ArchiveReader(open(sys.argv[1], 'rb')).extract_all(sys.argv[2])\n"
        "print(len(os.listdir('/proc/self/fd')) - before)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(archive), str(target), oct(umask)], check=True, capture_output=True, text=True
    )
    assert done.stdout.strip() == "0", "descriptors left open after the extraction"
    for name, (content, mode) in expected.items():
        path = target / name
        assert stat.S_IMODE(path.stat().st_mode) == mode, name
        assert path.read_bytes() == content, name


def test_an_archive_cut_among_small_files_fails_and_releases_every_descriptor(tmp_path: Path) -> None:
    data, _ = _wide_tree(80)
    cut = data[: len(data) * 2 // 3]
    target = tmp_path / "target"
    target.mkdir()
    before = _open_descriptors()
    with pytest.raises(ArchiveError, match=r"damaged|unexpected end") as raised:
        _extract(cut, target)
    assert "\n" not in str(raised.value)
    assert _open_descriptors() == before


@pytest.mark.parametrize(
    "text",
    ["1700000000.123456789", "1700000000", "1700000000.5", "1700000000.1234567899999", "-5.25", "1e9", "\u0661\u0662.5"],
)
def test_sub_second_mtimes_of_pax_records_are_restored_to_the_nanosecond(target: Path, text: str) -> None:
    """Every form a pax mtime record can take, as Python's Decimal reads it (cut to nanoseconds)."""
    info, data = member("file", data=b"x")
    info.pax_headers = {"mtime": text}
    _extract(tar_of([(info, data)]), target)
    assert (target / "file").stat().st_mtime_ns == int(Decimal(text).scaleb(9))
