"""Reading manifests through storage that returns short reads, as network streams do."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from brs.builtins.local_storage import LocalStorage
from brs.crypto import Keyring
from brs.engine import Engine

KEY = b"0123456789abcdef0123456789abcdef"


class _Trickle(io.RawIOBase):
    """At most 7 bytes per read, however many were asked for."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = source

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        return self._source.read(7 if size is None or size < 0 else min(size, 7))

    def close(self) -> None:
        self._source.close()
        super().close()


class _TricklingStorage(LocalStorage):
    def download(self, name: str) -> BinaryIO:
        return _Trickle(super().download(name))  # type: ignore[return-value]


def test_manifests_and_stream_headers_are_gathered_from_short_reads(tmp_path: Path, make_engine: Callable[..., Engine]) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "f").write_text("x")
    engine = make_engine(keyring=Keyring(KEY))
    manifest = engine.backup()
    engine.drivers.storage = _TricklingStorage(engine.storage.context)
    catalog = engine.catalog()
    assert [e.manifest.backup_id for e in catalog.entries] == [manifest.backup_id]
    assert catalog.unreadable == [] and catalog.restorable() == [manifest]
    assert engine._is_own_stream(manifest.object_name)
