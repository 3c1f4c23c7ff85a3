"""Deterministic benchmark corpora: directory trees that look like what brs backs up.

``mixed`` (the default) imitates a database server's volume:

* ``base/``: PostgreSQL-like relation files made of 8 KiB pages (a page header, line pointers,
  a zero-filled hole of free space, tuples of JSON-like text at the end; some index-like pages
  carry random keys, a few pages are all zero), as a handful of large tables plus many small
  relations;
* ``pg_wal/``: 16 MiB-style segments, text records in the first part and zeros after;
* ``docs/``: thousands of small JSON documents (1-32 KiB) in a two-level fan-out;
* ``logs/``: a few large text log files;
* ``blobs/``: incompressible data (already compressed media, encrypted columns): a few large
  files and a few hundred small ones.

``pg`` is only the ``base/`` and ``pg_wal/`` parts (compressible, like a database data directory),
``random`` is eight equally sized incompressible files (the worst case for every compressor).

Everything derives from a fixed seed, so a corpus of a given kind and size is the same on every
machine; random bytes come from AES-CTR over zeros because that is ~10x faster than
:func:`random.randbytes` and just as incompressible.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import struct
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = ["KINDS", "CorpusInfo", "describe", "ensure_corpus"]

KINDS = ("mixed", "pg", "random")
PAGE = 8192
MIB = 1 << 20
_SEED = 20261124
_WRITE = MIB  # bytes handed to write() at once while generating
_WORDS = 2000


@dataclass
class CorpusInfo:
    """What was generated: enough to describe it in a report and to validate a restore."""

    kind: str
    path: str
    files: int
    directories: int
    bytes: int
    seconds: float


class _Random:
    """Seeded, fast byte and choice source."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        key = self.rng.randbytes(32)
        nonce = self.rng.randbytes(16)
        self._ctr = Cipher(algorithms.AES(key), modes.CTR(nonce)).encryptor()
        self._zeros = bytes(_WRITE)

    def bytes(self, size: int) -> bytes:
        """``size`` incompressible bytes."""
        if size <= len(self._zeros):
            return self._ctr.update(self._zeros[:size])
        return b"".join(self.bytes(min(_WRITE, size - done)) for done in range(0, size, _WRITE))


def _vocabulary(rng: random.Random) -> list[str]:
    syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "zu", "pe", "da", "gor", "lin", "bar", "ex", "qu"]
    words: set[str] = set()
    while len(words) < _WORDS:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def _text_pool(rng: random.Random, size: int) -> bytes:
    """JSON-lines records: the raw material of tuples, documents, logs and WAL records.

    Records mix repetitive keys with ids, numbers, timestamps and a Zipf-like choice of words,
    which compresses about 2-4x with lz4 and more with zstd, like typical application data.
    """
    words = _vocabulary(rng)
    weights = [1.0 / (rank + 1) for rank in range(len(words))]
    lines: list[str] = []
    total = 0
    record = 0
    while total < size:
        text = " ".join(rng.choices(words, weights, k=rng.randint(4, 30)))
        line = json.dumps(
            {
                "id": 1_000_000 + record,
                "account": rng.randint(1, 50_000),
                "ts": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T"
                f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z",
                "status": rng.choice(("active", "pending", "closed", "archived")),
                "amount": round(rng.uniform(0, 10_000), 2),
                "token": rng.randbytes(12).hex(),
                "text": text,
            },
            separators=(",", ":"),
        )
        lines.append(line)
        total += len(line) + 1
        record += 1
    return ("\n".join(lines) + "\n").encode()[:size]


class _Generator:
    """Writes the files of one corpus below ``root``."""

    def __init__(self, root: Path, seed: int) -> None:
        self.root = root
        self.rnd = _Random(seed)
        self.rng = self.rnd.rng
        self.pool = _text_pool(self.rng, 24 * MIB)
        self.files = 0
        self.bytes = 0

    def _text(self, size: int) -> bytes:
        """Text from random places of the pool, with a fresh token every 4 KiB.

        The tokens keep long-range matchers (zstd's multi-MiB window) from finding whole
        repeated pages, which would overstate the ratio.
        """
        out = []
        done = 0
        while done < size:
            take = min(4096, size - done)
            start = self.rng.randrange(0, len(self.pool) - take)
            piece = (
                self.pool[start : start + take - 33] + b"\n" + self.rnd.bytes(16).hex().encode()
                if take > 64
                else self.pool[start : start + take]
            )
            out.append(piece)
            done += len(piece)
        return b"".join(out)[:size]

    def _page(self, kind: str) -> bytes:
        """One 8 KiB page of a heap or index relation."""
        if self.rng.random() < 0.04:
            return bytes(PAGE)  # extended but never used
        fill = self.rng.uniform(0.25, 1.0) if kind == "heap" else self.rng.uniform(0.5, 0.9)
        tuples = int((PAGE - 24) * fill) // 4 * 4
        items = max(1, tuples // 120)
        lower = 24 + 4 * items
        upper = max(lower, PAGE - tuples)
        header = struct.pack("<QHHHHHHI", self.rng.getrandbits(64), self.rng.getrandbits(16), 0, lower, upper, PAGE, 0x2004, 0)
        pointers = b"".join(struct.pack("<I", (upper + i * 120) & 0x7FFF | (120 << 17)) for i in range(items))
        body_size = PAGE - upper
        if kind == "heap":
            body = self._text(body_size)
        else:  # btree keys: half random, half text
            body = self.rnd.bytes(body_size // 2) + self._text(body_size - body_size // 2)
        page = header + pointers + bytes(upper - lower) + body
        return page[:PAGE].ljust(PAGE, b"\0")

    def _write(self, relative: str, size: int, produce: str) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as out:
            done = 0
            while done < size:
                take = min(_WRITE, size - done)
                out.write(self._content(produce, take, done, size))
                done += take
        self.files += 1
        self.bytes += size

    def _content(self, produce: str, take: int, offset: int, size: int) -> bytes:
        if produce == "random":
            return self.rnd.bytes(take)
        if produce == "text":
            return self._text(take)
        if produce == "wal":  # records in the first part, a zero-filled tail
            used = size * 45 // 100
            head = max(0, min(take, used - offset))
            return self._text(head) + bytes(take - head)
        pages = b"".join(self._page(produce) for _ in range(-(-take // PAGE)))
        return pages[:take]

    def relations(self, budget: int, large: int) -> None:
        """A few large tables plus many small relations (heap and index)."""
        small_budget = budget // 5
        for table in range(large):
            size = (budget - small_budget) // large // PAGE * PAGE
            self._write(f"base/16384/{24576 + table}", size, "heap" if table % 3 else "index")
        spent = 0
        node = 30000
        while spent < small_budget:
            size = min(small_budget - spent, PAGE * int(self.rng.paretovariate(1.2)))
            size = max(PAGE, size // PAGE * PAGE)
            database = ("1", "16383", "16384")[node % 3]
            self._write(f"base/{database}/{node}", size, "heap" if node % 4 else "index")
            spent += size
            node += 1

    def wal(self, budget: int) -> None:
        segment = min(16 * MIB, max(MIB, budget // 4))
        for index in range(max(1, budget // segment)):
            self._write(f"pg_wal/0000000100000000000000{index:02X}", segment, "wal")

    def documents(self, budget: int) -> None:
        spent = 0
        index = 0
        while spent < budget:
            size = min(budget - spent, self.rng.randint(1024, 32 * 1024))
            self._write(f"docs/{index % 64:02x}/{index // 64 % 32:02x}/doc-{index:06d}.json", size, "text")
            spent += size
            index += 1

    def logs(self, budget: int) -> None:
        size = min(32 * MIB, max(MIB, budget // 4))
        for index in range(max(1, budget // size)):
            self._write(f"logs/app-{index}.log", size, "text")

    def blobs(self, budget: int, large: int) -> None:
        small_budget = budget // 3
        for index in range(large):
            self._write(f"blobs/large/blob-{index}.bin", (budget - small_budget) // large, "random")
        spent = 0
        index = 0
        while spent < small_budget:
            size = min(small_budget - spent, self.rng.randint(16 * 1024, MIB))
            self._write(f"blobs/media/{index % 16:x}/m-{index:05d}.jpg", size, "random")
            spent += size
            index += 1

    def empty_directories(self) -> None:
        for name in ("pg_notify", "pg_snapshots", "pg_replslot"):
            (self.root / name).mkdir(parents=True, exist_ok=True)


def _generate(kind: str, root: Path, size: int) -> _Generator:
    gen = _Generator(root, _SEED + KINDS.index(kind))
    if kind == "random":
        for index in range(8):
            gen._write(f"rand-{index}.bin", size // 8, "random")
    elif kind == "pg":
        gen.relations(size * 90 // 100, large=4)
        gen.wal(size * 10 // 100)
        gen.empty_directories()
    else:
        gen.relations(size * 43 // 100, large=3)
        gen.wal(size * 6 // 100)
        gen.documents(size * 7 // 100)
        gen.logs(size * 14 // 100)
        gen.blobs(size * 30 // 100, large=2)
        gen.empty_directories()
    return gen


def _count(root: Path) -> tuple[int, int, int]:
    files = directories = total = 0
    for _, dirs, names in os.walk(root):
        directories += len(dirs)
        for name in names:
            files += 1
            total += os.lstat(os.path.join(_, name)).st_size
    return files, directories, total


def ensure_corpus(workdir: Path, kind: str, size_mib: int, log: Callable[[str], None] = print) -> CorpusInfo:
    """Return the corpus of ``kind`` and ``size_mib`` under ``workdir``, generating it once.

    A JSON marker next to the tree is written last, so an interrupted generation is redone.
    """
    root = workdir / f"corpus-{kind}-{size_mib}m"
    marker = workdir / f"corpus-{kind}-{size_mib}m.json"
    if marker.exists() and root.is_dir():
        return CorpusInfo(**json.loads(marker.read_text()))
    if root.exists():
        shutil.rmtree(root)
    log(f"generating the {kind} corpus of {size_mib} MiB in {root} (once; cached) ...")
    started = time.perf_counter()
    root.mkdir(parents=True)
    _generate(kind, root, size_mib * MIB)
    files, directories, total = _count(root)
    info = CorpusInfo(kind, str(root), files, directories, total, round(time.perf_counter() - started, 1))
    marker.write_text(json.dumps(asdict(info)))
    return info


def describe(info: CorpusInfo) -> str:
    """One line for reports."""
    return (
        f"{info.kind} corpus: {info.bytes / 1e6:.0f} MB ({info.bytes / MIB:.0f} MiB) in {info.files} files "
        f"and {info.directories} directories"
    )
