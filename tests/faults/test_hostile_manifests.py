"""One malformed or hostile manifest is skipped with a warning and counted: listing, restore and
retention go on with the others, and the object next to it is never deleted."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from brs.testing.tampering import MANIFEST, Store, past_id


def _nested(depth: int) -> bytes:
    return b'{"format": "brs-manifest", "format_version": 2, "extra": ' + b"[" * depth + b"]" * depth + b"}"


def _wrong_types(store: Store, version: str) -> bytes:
    document = store.document(version)
    document.update(stored_size="12", members=None, encryption=["x"])
    return json.dumps(document).encode()


def _newer_format(store: Store, version: str) -> bytes:
    document = store.document(version)
    document["format_version"] = 99
    return json.dumps(document).encode()


BAD = {
    "array": lambda store, version: b"[]",
    "null": lambda store, version: b"null",
    "string": lambda store, version: b'"x"',
    "wrong-types": _wrong_types,
    "damaged": lambda store, version: store.manifest(version).read_bytes()[:57],
    "not-utf8": lambda store, version: b'{"format": "\xff\xfe"}',
    "nested": lambda store, version: _nested(200_000),
    "newer-format": _newer_format,
}


@pytest.fixture
def store(tmp_path: Path, brs_env: dict[str, str]) -> Store:
    return Store.of(brs_env, BRS_OBJECT_MAX_KEEP="1")


def _plant_next_to_a_real_object(store: Store, version: str, content: bytes) -> tuple[str, str]:
    """A copy of ``version``'s data object under an older id of brs's own shape, aged past the
    orphan limit, with ``content`` as its manifest: what retention must not take for an orphan."""
    victim_id = past_id(30, "00bad0")
    suffix = store.document(version)["object_name"][len(version) :]
    data_object = victim_id + suffix
    (store.root / data_object).write_bytes((store.root / (version + suffix)).read_bytes())
    (store.root / (data_object + MANIFEST)).write_bytes(content)
    store.age(data_object, 30)
    store.age(data_object + MANIFEST, 30)
    return data_object, data_object + MANIFEST


@pytest.mark.parametrize("kind", sorted(BAD))
def test_a_bad_manifest_is_skipped_counted_and_kept(store: Store, kind: str) -> None:
    first = store.backup("first")
    data_object, manifest = _plant_next_to_a_real_object(store, first, BAD[kind](store, first))

    listing = store.brs("backups", "list", "--json")
    assert listing.returncode == 0, listing.stderr
    assert [row["version"] for row in json.loads(listing.stdout)] == [first]
    assert "1 manifests could not be read" in listing.stderr and "Traceback" not in listing.stderr

    # Two backups with --object-max-keep 1: retention runs twice and deletes only brs's own.
    store.backup("second")
    last = store.backup("third")
    assert {data_object, manifest} <= store.files(), "an object with an unreadable manifest was deleted"
    assert [row["version"] for row in store.listed()] == [last]

    (store.data / "state.txt").write_text("current")
    restored = store.brs("restore")
    assert restored.returncode == 0 and restored.stdout.strip() == last and store.restored() == "third"


def test_a_huge_manifest_is_not_read(store: Store) -> None:
    """300 MB of manifest is refused from the listing's size, never downloaded."""
    first = store.backup("first")
    data_object, manifest = _plant_next_to_a_real_object(store, first, b"")
    with open(store.root / manifest, "r+b") as handle:
        handle.truncate(300 << 20)  # sparse: costs no disk, but a reader would take 300 MB
    store.age(manifest, 30)

    listing = store.brs("backups", "list", "--json")
    assert listing.returncode == 0, listing.stderr
    assert [row["version"] for row in json.loads(listing.stdout)] == [first]
    assert "1 manifests could not be read" in listing.stderr and "more than a manifest can be" in listing.stderr
    store.backup("second")
    assert {data_object, manifest} <= store.files()
    assert os.stat(store.root / manifest).st_size == 300 << 20
