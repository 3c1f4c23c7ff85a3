"""Backup, listing, retention, restore and verification through the engine (in process)."""

from __future__ import annotations

import json
import os
from typing import ClassVar

from blake3 import blake3
from collections.abc import Callable
from pathlib import Path

import pytest

from brs import failures
from brs.builtins.compression.tar import PlainTar
from brs.crypto import Keyring
from brs.engine import Engine
from brs.errors import BackupNotFound, DecryptionError, IntegrityError
from brs.manifest import MANIFEST_SUFFIX
from brs.testing import tree_snapshot

KEY = b"0123456789abcdef0123456789abcdef"
OTHER_KEY = b"ffffffffffffffffffffffffffffffff"


def _data(tmp_path: Path, text: str = "v1") -> Path:
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True, exist_ok=True)
    (data / "sub" / "file.txt").write_text(text)
    return data


def test_a_backup_is_two_objects_and_listing_reads_the_manifest(tmp_path: Path, make_engine: Callable[..., Engine]) -> None:
    engine = make_engine(_data(tmp_path), keyring=Keyring(KEY))
    manifest = engine.backup()
    names = sorted(p.name for p in (tmp_path / "store").iterdir())
    assert names == [manifest.object_name, manifest.object_name + MANIFEST_SUFFIX]
    assert manifest.object_name.endswith(".tar.zst.aes")
    document = json.loads((tmp_path / "store" / manifest.manifest_name).read_text())
    stored = (tmp_path / "store" / manifest.object_name).read_bytes()
    assert document["format"] == "brs-manifest" and document["format_version"] == 3
    assert document["blake3"] == blake3(stored).hexdigest() == manifest.blake3 and document["sha256"] is None
    assert document["encryption"]["key_id"] == Keyring(KEY).encryption_key_id
    assert document["db_plugin"] == "brs-localfs" and document["brs_version"]
    assert engine.list_backups() == [manifest]


def test_a_data_object_without_manifest_is_not_a_backup(tmp_path: Path, make_engine: Callable[..., Engine]) -> None:
    engine = make_engine(_data(tmp_path))
    manifest = engine.backup()
    (tmp_path / "store" / manifest.manifest_name).unlink()
    assert engine.list_backups() == []


def test_retention_keeps_the_newest_and_removes_manifest_first(tmp_path: Path, make_engine: Callable[..., Engine]) -> None:
    engine = make_engine(_data(tmp_path), max_keep=3, compression="tar")
    made = [engine.backup().backup_id for _ in range(5)]
    listed = [m.backup_id for m in engine.list_backups()]
    assert listed == list(reversed(made))[:3]
    assert len(list((tmp_path / "store").iterdir())) == 6


def test_restore_picks_the_method_from_the_backup_not_the_settings(tmp_path: Path, make_engine: Callable[..., Engine]) -> None:
    data = _data(tmp_path, "lz4 era")
    make_engine(data, compression="tarlz4").backup()
    before = tree_snapshot(data)
    engine = make_engine(data, compression="targz")
    (data / "sub" / "file.txt").write_text("changed")
    result = engine.restore("latest")
    assert result.manifest.compression == "tarlz4"
    assert tree_snapshot(data) == before
    assert result.previous is not None and (result.previous / "sub" / "file.txt").read_text() == "changed"


def test_restore_of_a_specific_older_version(tmp_path: Path, make_engine: Callable[..., Engine]) -> None:
    data = _data(tmp_path, "first")
    engine = make_engine(data)
    first = engine.backup()
    (data / "sub" / "file.txt").write_text("second")
    engine.backup()
    engine.restore(first.backup_id, keep_previous=False)
    assert (data / "sub" / "file.txt").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir() if "previous" in p.name] == []


def test_unknown_version_is_backup_not_found(tmp_path: Path, make_engine: Callable[..., Engine]) -> None:
    engine = make_engine(_data(tmp_path))
    with pytest.raises(BackupNotFound, match="no backups yet"):
        engine.restore("latest")
    engine.backup()
    with pytest.raises(BackupNotFound, match="nope not found"):
        engine.verify("nope")


def test_key_rotation_reads_old_backups_with_a_decryption_key(tmp_path: Path, make_engine: Callable[..., Engine]) -> None:
    data = _data(tmp_path)
    make_engine(data, keyring=Keyring(KEY)).backup()
    rotated = make_engine(data, keyring=Keyring(OTHER_KEY, [KEY]))
    assert rotated.verify("latest").members > 0
    with pytest.raises(DecryptionError, match="configured keys"):
        make_engine(data, keyring=Keyring(OTHER_KEY)).verify("latest")


@pytest.mark.parametrize("encrypted", [True, False], ids=["encrypted", "plain"])
def test_damage_is_detected_before_the_data_directory_is_touched(
    tmp_path: Path, make_engine: Callable[..., Engine], encrypted: bool
) -> None:
    data = _data(tmp_path, "precious")
    engine = make_engine(data, keyring=Keyring(KEY) if encrypted else Keyring())
    manifest = engine.backup()
    stored = tmp_path / "store" / manifest.object_name
    original = stored.read_bytes()
    (data / "sub" / "file.txt").write_text("current")
    for damaged in (original[: len(original) // 2], original[:100] + bytes([original[100] ^ 1]) + original[101:]):
        stored.write_bytes(damaged)
        with pytest.raises(IntegrityError):
            engine.restore(manifest.backup_id)
        with pytest.raises(IntegrityError):
            engine.verify(manifest.backup_id)
        assert (data / "sub" / "file.txt").read_text() == "current"
        assert sorted(p.name for p in tmp_path.iterdir()) == [".data.brs-lock", "data", "store"]  # the lock file stays


def test_a_failing_dump_leaves_nothing_listed(tmp_path: Path, make_engine: Callable[..., Engine]) -> None:
    engine = make_engine(tmp_path / "missing-data-dir")
    with pytest.raises(Exception, match="does not exist"):
        engine.backup()
    assert engine.list_backups() == []
    (record,) = engine.failures()  # only the record of the failure is stored
    assert record.stage == "dump" and "does not exist" in record.error
    assert [p.name for p in (tmp_path / "store").iterdir()] == [record.backup_id + ".failed.json"]


def test_failure_records_are_bounded_and_retention_never_counts_them(tmp_path: Path, make_engine: Callable[..., Engine]) -> None:
    data = _data(tmp_path)
    good = make_engine(data).backup()
    failing = make_engine(tmp_path / "missing-data-dir")
    for _ in range(failures.KEEP + 2):
        with pytest.raises(Exception, match="does not exist"):
            failing.backup()
    recorded = failing.failures()
    assert len(recorded) == failures.KEEP and recorded == sorted(recorded, key=lambda r: r.backup_id, reverse=True)
    records = sorted(p.name for p in (tmp_path / "store").glob("*.failed.json"))
    assert records == sorted(r.backup_id + ".failed.json" for r in recorded)
    plan = make_engine(data).prune()
    assert plan.delete == [] and plan.orphans == []
    assert [m.backup_id for m in make_engine(data).list_backups()] == [good.backup_id]
    assert sorted(p.name for p in (tmp_path / "store").glob("*.failed.json")) == records


class _FramesAsTheyCame(PlainTar):
    """A compression plugin that stores frames uncompressed by returning its input itself."""

    frame_size: ClassVar[int] = 64 << 10

    def compress_frame(self, data: bytes) -> bytes:
        return data


@pytest.mark.parametrize("method", ["tarlz4", "tarzst", "targz", "frames-as-they-came"])
def test_refilled_piece_buffers_never_reach_a_backup_twice(
    tmp_path: Path, make_engine: Callable[..., Engine], monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    """The engine refills each piece's buffer once its frame is compressed; a frame that is the
    piece itself (a plugin that returns its input) must not be refilled while it is stored."""
    data = tmp_path / "data"
    (data / "many").mkdir(parents=True)
    for n in range(40):  # distinct content in every piece: a refilled buffer would show
        (data / "many" / f"{n}.bin").write_bytes(bytes([n]) * 50_000 + os.urandom(30_000))
    (data / "big.bin").write_bytes(os.urandom(3 << 20))
    before = tree_snapshot(data)
    engine = make_engine(data, compression="tar" if method == "frames-as-they-came" else method, keyring=Keyring(KEY))
    if method == "frames-as-they-came":
        plain = engine.drivers.compression_for("tar")
        monkeypatch.setitem(engine.drivers._compressions, "tar", _FramesAsTheyCame(plain.context))
    engine.backup()
    (data / "big.bin").write_bytes(b"changed")
    engine.restore("latest")
    assert tree_snapshot(data) == before
