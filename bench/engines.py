"""Tar engines alone, in one process: brs's own writer and extractor against libarchive and GNU tar.

Backups and restores spend most of their interpreter time in the tar stage (see "What limits each
stage" in docs/performance.md), and issue 17 asks to measure libarchive (the C library behind
bsdtar, through ``libarchive-c``) against brs's own code before choosing an engine. This runs
each engine on one thread, with nothing else in the pipeline:

* **write**: the corpus as a tar stream into a sink that drops it; brs's
  :class:`brs.archive.ArchiveWriter` over :mod:`brs.walk`, libarchive's disk reader and pax
  writer, and ``tar cf -`` into a pipe;
* **extract**: brs's own tar stream of the corpus, read from tmpfs and extracted into tmpfs (so
  that the disk's state does not bury the CPU's part); brs's :class:`brs.archive.ArchiveReader`
  with its :class:`brs.extract.TreeExtractor`, libarchive's reader with its disk writer (owner,
  mode, mtime and its secure-extraction flags), and ``tar xf``.

Rounds interleave the engines; medians of wall-clock, user and system CPU seconds are printed with
the ratio of each engine's wall-clock time to GNU tar's in the same round. Every extraction is
checked (files, directories and bytes against the corpus). Nothing is asserted.

``libarchive-c`` is not a dependency of brs: install it into the venv first
(``.venv/bin/pip install libarchive-c``; it loads Debian's ``libarchive13``).

    .venv/bin/python bench/engines.py [--size-mib 512] [--rounds 3] [--scratch /dev/shm]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO, cast

import corpus as corpora

from brs.archive import ArchiveReader, ArchiveWriter

_PIECE = 256 << 10  # the pipeline's piece and frame size


class _DroppingSink:
    """Takes a tar stream the way :class:`brs.pipeline.ChannelWriter` does (``write``, and
    ``spare``/``advance`` for file data read in place) and keeps only its length."""

    def __init__(self) -> None:
        self._buffer = memoryview(bytearray(_PIECE))
        self.size = 0

    def write(self, data: bytes | memoryview) -> int:
        self.size += len(data)
        return len(data)

    def spare(self) -> memoryview:
        return self._buffer[:]

    def advance(self, size: int) -> None:
        self.size += size


def write_brs(source: Path, archive: Path | None) -> int:
    if archive is not None:  # the stream the extractors read: brs's own format
        with open(archive, "wb") as out:
            writer = ArchiveWriter(cast(BinaryIO, out))
            writer.add_path(source, ".")
            writer.close()
            return out.tell()
    sink = _DroppingSink()
    writer = ArchiveWriter(cast(BinaryIO, sink))
    writer.add_path(source, ".")
    writer.close()
    return sink.size


def write_libarchive(source: Path, _: Path | None) -> int:
    import libarchive

    written = 0

    def drop(data: Any) -> int:
        nonlocal written
        written += len(data)
        return len(data)

    # pax_restricted: pax records only where ustar cannot say it (as tarfile and brs write).
    with libarchive.custom_writer(drop, "pax_restricted", block_size=_PIECE) as archive:
        archive.add_files(str(source), pathname=".")
    return written


def write_gnu_tar(source: Path, _: Path | None) -> int:
    # Into a pipe: with /dev/null as its archive, GNU tar skips reading the files.
    with subprocess.Popen(["tar", "cf", "-", "-C", str(source), "."], stdout=subprocess.PIPE) as tar:
        assert tar.stdout is not None
        buffer = bytearray(_PIECE)
        written = 0
        while count := tar.stdout.readinto(buffer):
            written += count
    if tar.returncode:
        sys.exit(f"tar cf failed with status {tar.returncode}")
    return written


def extract_brs(archive: Path, target: Path) -> None:
    with open(archive, "rb") as stream:
        ArchiveReader(stream).extract_all(target)


def _libarchive_flags() -> int:
    from libarchive import extract

    return (
        extract.EXTRACT_OWNER
        | extract.EXTRACT_PERM
        | extract.EXTRACT_TIME
        | extract.EXTRACT_SECURE_NODOTDOT
        | extract.EXTRACT_SECURE_SYMLINKS
        | extract.EXTRACT_SECURE_NOABSOLUTEPATHS
    )


@contextlib.contextmanager
def _libarchive_entries(archive: Path, target: Path) -> Iterator[Any]:
    """The archive's entries read by libarchive, with ``target`` as the working directory, against
    which libarchive's disk writer resolves names."""
    import libarchive

    with (
        contextlib.chdir(target),
        open(archive, "rb", buffering=0) as stream,
        libarchive.stream_reader(stream, "tar", block_size=_PIECE) as entries,
    ):
        yield entries


def extract_libarchive(archive: Path, target: Path) -> None:
    from libarchive import extract

    with _libarchive_entries(archive, target) as entries:
        extract.extract_entries(entries, _libarchive_flags())


class _EntryKind:
    """What :meth:`brs.extract.MemberRules.admit` asks of a member (``isreg()``, ``issym()``, ...,
    ``linkname``, ``type``), from a libarchive entry, which has the same names as properties."""

    def __init__(self, entry: Any) -> None:
        self._entry = entry
        self.linkname = entry.linkpath or ""
        self.type = b"?"

    def __getattr__(self, name: str) -> Callable[[], bool]:
        value = bool(getattr(self._entry, name))
        return lambda: value


def extract_libarchive_ruled(archive: Path, target: Path) -> None:
    """libarchive's reader and disk writer, each member first admitted by brs's own rules (the
    per-member Python an engine change would keep), symlinks resolved at the end as brs does."""
    from libarchive import extract

    from brs.extract import MemberRules

    rules = MemberRules()

    def admitted(entries: Any) -> Any:
        for entry in entries:
            entry.pathname = rules.admit(entry.pathname, cast(Any, _EntryKind(entry))) or "."
            yield entry

    with _libarchive_entries(archive, target) as entries:
        extract.extract_entries(admitted(entries), _libarchive_flags())
    rules.check_links()


def extract_gnu_tar(archive: Path, target: Path) -> None:
    subprocess.run(["tar", "xf", str(archive), "-C", str(target)], check=True)


WRITERS: dict[str, Callable[[Path, Path | None], int]] = {
    "GNU tar": write_gnu_tar,
    "brs": write_brs,
    "libarchive": write_libarchive,
}
EXTRACTORS: dict[str, Callable[[Path, Path], None]] = {
    "GNU tar": extract_gnu_tar,
    "brs": extract_brs,
    "libarchive": extract_libarchive,
    "libarchive, brs's rules": extract_libarchive_ruled,
}


@dataclass
class Sample:
    wall: float
    user: float
    system: float


def _measured(run: Callable[[], object]) -> Sample:
    """Wall-clock and CPU seconds of ``run``: this process's threads and its children."""
    before = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    run()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    user = sum(a.ru_utime - b.ru_utime for a, b in zip(after, before, strict=True))
    system = sum(a.ru_stime - b.ru_stime for a, b in zip(after, before, strict=True))
    return Sample(wall, user, system)


def _tree_totals(root: Path) -> tuple[int, int, int]:
    """Files, directories (below the root) and their bytes, counted as the corpus counts them."""
    files = directories = size = 0
    for parent, names, files_here in os.walk(root):
        directories += len(names)
        files += len(files_here)
        size += sum(os.lstat(os.path.join(parent, name)).st_size for name in files_here)
    return files, directories, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/brs-bench"), help="corpus cache")
    parser.add_argument("--scratch", type=Path, default=Path("/dev/shm"), help="where the tar stream and extractions go")
    args = parser.parse_args()
    try:
        import libarchive  # noqa: F401
    except (ImportError, OSError) as error:
        sys.exit(f"libarchive-c is not installed ({error}): .venv/bin/pip install libarchive-c")
    if os.geteuid() != 0:
        sys.exit("run as root: every engine restores owners")
    args.workdir.mkdir(parents=True, exist_ok=True)
    info = corpora.ensure_corpus(args.workdir, "mixed", args.size_mib)
    source = Path(info.path)
    expected = (info.files, info.directories, info.bytes)
    scratch = Path(tempfile.mkdtemp(prefix="brs-engines-", dir=args.scratch))
    try:
        archive = scratch / "corpus.tar"
        size = write_brs(source, archive)
        samples: dict[tuple[str, str], list[Sample]] = {}
        for round_ in range(args.rounds):
            order = list(WRITERS) if round_ % 2 == 0 else list(reversed(WRITERS))
            for name in order:
                samples.setdefault(("write", name), []).append(_measured(partial(WRITERS[name], source, None)))
            for name in list(EXTRACTORS) if round_ % 2 == 0 else list(reversed(EXTRACTORS)):
                target = scratch / "extracted"
                target.mkdir()
                samples.setdefault(("extract", name), []).append(_measured(partial(EXTRACTORS[name], archive, target)))
                found = _tree_totals(target)
                if found != expected:
                    sys.exit(f"{name} extracted {found} (files, directories, bytes), the corpus has {expected}")
                shutil.rmtree(target)
        _report(info, size, samples, args.rounds)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _report(info: corpora.CorpusInfo, size: int, samples: dict[tuple[str, str], list[Sample]], rounds: int) -> None:
    print(f"tar engines on one thread, {corpora.describe(info)}; tar stream {size / 1e6:.0f} MB; median of {rounds} round(s)")
    print(f"{'stage':8} {'engine':24} {'wall s':>7} {'user s':>7} {'sys s':>7} {'MB/s':>6} {'wall / GNU tar':>15}")
    for stage in ("write", "extract"):
        baseline = statistics.median(s.wall for s in samples[(stage, "GNU tar")])
        for name in WRITERS if stage == "write" else EXTRACTORS:
            runs = samples[(stage, name)]
            wall = statistics.median(s.wall for s in runs)
            user = statistics.median(s.user for s in runs)
            system = statistics.median(s.system for s in runs)
            rate = info.bytes / wall / 1e6
            print(f"{stage:8} {name:24} {wall:7.2f} {user:7.2f} {system:7.2f} {rate:6.0f} {wall / baseline:14.2f}x")


if __name__ == "__main__":
    main()
