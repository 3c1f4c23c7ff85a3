"""Retention deletes only what it positively identified as its own older backups: never the
backup just taken, never what it cannot read, never objects it does not recognise."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from brs.crypto import StreamEncryptor, parse_key
from brs.testing.tampering import Store, one_year_ahead_id, past_id


@pytest.fixture
def store(tmp_path: Path, brs_env: dict[str, str]) -> Store:
    return Store.of(brs_env, BRS_OBJECT_MAX_KEEP="1")


def test_backups_dated_a_year_ahead_do_not_push_out_new_ones(store: Store) -> None:
    """A host whose clock ran a year ahead wrote two backups; the clock is right again."""
    older = store.backup("before the skew")
    skewed = [store.copy_backup_as(older, one_year_ahead_id(f"5ce{n}00")) for n in range(2)]
    result = store.brs("backup")
    assert result.returncode == 0, result.stderr
    fresh = result.stdout.strip()
    assert result.stderr.count("in the future (clock skew?)") == 2

    manifests = store.manifests()
    assert fresh in manifests, "the backup just taken was deleted"
    assert set(skewed) <= set(manifests), "retention deleted backups it does not count"
    assert older not in manifests, "the older backup of this database goes by --object-max-keep 1"
    # latest is the fresh backup, not one dated in the future.
    (store.data / "state.txt").write_text("changed")
    restored = store.brs("restore")
    assert restored.returncode == 0 and restored.stdout.strip() == fresh and store.restored() == "before the skew"


def test_the_backup_just_taken_survives_a_newer_one_within_the_tolerance(store: Store) -> None:
    """Another host's clock two minutes ahead: its backup is newer, and still the one just
    taken is kept."""
    older = store.backup("one")
    ahead = store.copy_backup_as(older, past_id(-120 / 86400, "a4ead0"))
    result = store.brs("backup")
    assert result.returncode == 0, result.stderr
    fresh = result.stdout.strip()
    assert set(store.manifests()) == {fresh, ahead}


def test_only_brs_objects_without_any_manifest_are_orphans(store: Store, brs_key: str) -> None:
    first = store.backup("first")
    root = store.root
    strangers = {
        "0.tar.gz": os.urandom(64),  # the old tool's backup
        "db.tar.lz4.aes": os.urandom(64),
        "notes.txt": b"keep me",
        "20200101T000000Z-abcdef.tar.gz.aes": os.urandom(64),  # brs's shape, not a brs stream
    }
    for name, content in strangers.items():
        (root / name).write_bytes(content)
    (root / "other-prefix").mkdir()
    (root / "other-prefix" / "20200101T000000Z-abcdef.tar.gz").write_bytes(b"another database's")
    # Real orphans: a plain one and an encrypted one whose header names its backup.
    plain_orphan = "20200101T000000Z-0aaaaa.tar.gz"
    (root / plain_orphan).write_bytes(os.urandom(64))
    encryptor = StreamEncryptor(parse_key(brs_key, "key"), "20200101T000000Z-0bbbbb")
    sealed_orphan = "20200101T000000Z-0bbbbb.tar.gz.aes"
    (root / sealed_orphan).write_bytes(encryptor.update(b"x") + encryptor.finalize())
    young_orphan = past_id(0, "0ccccc") + ".tar.gz"  # may still be uploading
    (root / young_orphan).write_bytes(os.urandom(64))
    for name in [*strangers, plain_orphan, sealed_orphan]:
        store.age(name, 2)

    result = store.brs("backup")
    assert result.returncode == 0, result.stderr
    files = store.files()
    assert set(strangers) | {"other-prefix", young_orphan} <= files
    assert (root / "other-prefix" / "20200101T000000Z-abcdef.tar.gz").read_bytes() == b"another database's"
    assert plain_orphan not in files and sealed_orphan not in files
    assert first not in store.manifests()
    assert "20200101T000000Z-abcdef.tar.gz.aes alone" in result.stderr
