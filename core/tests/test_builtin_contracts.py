"""Core runs the plugin contract suites against its own built-in drivers."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from typing import Any
from pathlib import Path

import pytest

from brs.builtins.compression import Gzip, Lz4, PlainTar, Zstd
from brs.assembly import storage
from brs.interfaces import Compression, NoOptions, PluginContext, Storage
from brs.testing import CompressionContract, StorageContract


class TestLocalStorage(StorageContract):
    @pytest.fixture
    def storage_factory(self, tmp_path: Path) -> Callable[[str], Storage]:
        def make(prefix: str) -> Storage:
            return storage("local", {"local_provider_backup_path": str(tmp_path / "bucket")}, object_prefix=prefix)

        return make

    @pytest.fixture
    def unreachable_storage(self, tmp_path: Path) -> Storage[Any]:
        (tmp_path / "a-file").write_text("not a directory")
        return storage("local", {"local_provider_backup_path": str(tmp_path / "a-file" / "backups")})


@pytest.fixture(params=[PlainTar, Gzip, Lz4, Zstd], ids=["tar", "targz", "tarlz4", "tarzst"])
def _compression_class(request: pytest.FixtureRequest) -> type[Compression]:
    return request.param  # type: ignore[no-any-return]


class TestBuiltinCompression(CompressionContract):
    @pytest.fixture
    def compression(self, _compression_class: type[Compression]) -> Compression:
        return _compression_class(PluginContext(name=_compression_class.__name__, settings=NoOptions()))

    @pytest.fixture
    def frames_its_stream(self, _compression_class: type[Compression]) -> bool:
        return _compression_class is not PlainTar


def test_local_storage_never_lists_an_unfinished_upload(tmp_path: Path) -> None:
    """A killed upload leaves only a hidden temporary file, which listing ignores and ensure() clears when stale."""
    import os
    import time

    local = storage("local", {"local_provider_backup_path": str(tmp_path)})
    local.ensure()
    leftover = tmp_path / ".brs-upload-x.tar-1234"
    leftover.write_bytes(b"partial")
    assert local.list() == []
    old = time.time() - 7200
    os.utime(leftover, (old, old))
    local.ensure()
    assert not leftover.exists()


@pytest.mark.parametrize(
    ("method", "foreign"),
    [("tar", ("lz4", "isal", "backports.zstd")), ("tarlz4", ("isal", "backports.zstd")), ("targz", ("lz4", "backports.zstd"))],
)
def test_a_method_imports_only_its_own_codec(method: str, foreign: tuple[str, ...]) -> None:
    """Selecting one method loads its codec library only (start-up time and memory of every run)."""
    import subprocess
    import sys

    probe = (
        "import sys\nfrom brs.assembly import compression\n"
        f"c = compression({method!r}).compressor(); c.compress(b'x'); c.flush()\n"
        f"print(sorted(m for m in {foreign!r} if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"


@pytest.mark.parametrize(("method", "tool"), [(Gzip, "gzip"), (Lz4, "lz4"), (Zstd, "zstd")], ids=["targz", "tarlz4", "tarzst"])
def test_the_methods_own_tool_reads_frames_compressed_apart(method: type[Compression], tool: str) -> None:
    """A stored object (before encryption) stays readable by gzip, lz4 and zstd themselves."""
    compression = method(PluginContext(name=tool, settings=NoOptions()))
    size = method.frame_size
    data = os.urandom(size) + b"a line of text\n" * (size // 4)
    frames = b"".join(compression.compress_frame(data[i : i + size]) for i in range(0, len(data), size))
    assert shutil.which(tool), f"{tool} is not installed (make system-deps)"
    decoded = subprocess.run([tool, "-d", "-c"], input=frames, capture_output=True, check=True)
    assert decoded.stdout == data


@pytest.mark.parametrize("method", [Gzip, Lz4, Zstd, PlainTar], ids=lambda m: m.__name__)
def test_errors_of_the_source_are_not_reported_as_a_corrupt_stream(method: type[Compression]) -> None:
    """A restore reads through the decompressor: a missing object or a failed decryption
    below it must surface as itself, not as damage of the compressed stream."""
    from brs.errors import BackupNotFound
    from brs.pipeline import PieceReader

    compression = method(PluginContext(name=method.__name__, settings=NoOptions()))
    data = compression.compress_frame(os.urandom(1 << 16)) if compression.frame_size else b"x" * (1 << 16)

    def pieces() -> Any:
        yield data[: len(data) // 2]
        raise BackupNotFound("object 20261126T000000Z-000000.tar is gone")

    reader = compression.decompress(PieceReader(pieces()))  # type: ignore[arg-type]
    with pytest.raises(BackupNotFound, match="is gone"):
        while reader.read(1 << 16):
            pass
