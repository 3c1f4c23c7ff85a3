"""With a key configured, storage write access alone cannot choose what is restored: planted
unencrypted backups, forged or swapped manifests are refused, and the real backup is restored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from brs.testing import assert_one_line_error
from brs.testing.tampering import Store, past_id

OTHER_KEY = "fedcba9876543210fedcba9876543210"


@pytest.fixture
def store(tmp_path: Path, brs_env: dict[str, str]) -> Store:
    return Store.of(brs_env, BRS_ENCRYPTION_KEY_FILE=str(tmp_path / "key"), BRS_POD_NAME="db-0")


def test_a_planted_newer_unencrypted_backup_is_never_chosen(store: Store) -> None:
    real = store.backup("real")
    planted = store.plant_plain_backup(past_id(-30 / 86400, "bad001"), "planted")  # 30 s newer than now
    (store.data / "state.txt").write_text("current")

    listing = store.brs("backups", "list", "--json")
    rows = {row["version"]: row for row in json.loads(listing.stdout)}
    assert rows[planted]["status"] == "unencrypted" and rows[real]["status"] == "usable"
    assert f"backup {planted} is not encrypted" in listing.stderr

    restored = store.brs("restore")
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.strip() == real and store.restored() == "real"

    (store.data / "state.txt").write_text("current")
    assert_one_line_error(store.brs("restore", planted), planted, "not encrypted", "--allow-unencrypted")
    assert store.restored() == "current"

    # Only the explicit allowance lets it in.
    allowed = store.brs("restore", "--allow-unencrypted")
    assert allowed.returncode == 0 and allowed.stdout.strip() == planted
    assert store.restored() == "planted"


@pytest.mark.parametrize(
    "field,value",
    [("created_at", "2099-01-01T00:00:00.000Z"), ("db", "postgres"), ("identity", {"host": "db-1", "database": None})],
    ids=["date", "database", "identity"],
)
def test_a_forged_manifest_is_named_and_never_used(store: Store, field: str, value: object) -> None:
    older = store.backup("one")
    newer = store.backup("two")
    document = store.document(newer)
    document[field] = value
    store.manifest(newer).write_text(json.dumps(document))
    (store.data / "state.txt").write_text("current")

    listing = store.brs("backups", "list", "--json")
    rows = {row["version"]: row for row in json.loads(listing.stdout)}
    assert rows[newer]["status"] == "tampered" and rows[older]["status"] == "usable"
    warnings = [line for line in listing.stderr.splitlines() if newer in line]
    assert len(warnings) == 1 and "does not match its MAC" in warnings[0]

    assert_one_line_error(store.brs("restore", newer), newer, "does not match its MAC")
    assert_one_line_error(store.brs("verify", newer), newer, "does not match its MAC")
    assert store.restored() == "current"
    restored = store.brs("restore")
    assert restored.returncode == 0 and restored.stdout.strip() == older
    assert store.restored() == "one"
    assert store.manifest(newer).exists(), "a forged manifest is reported, not deleted"


def test_a_manifest_pointing_at_another_object_is_skipped(store: Store) -> None:
    older = store.backup("one")
    newer = store.backup("two")
    document = store.document(newer)
    old_document = store.document(older)
    document.update({k: old_document[k] for k in ("object_name", "blake3", "stored_size")})
    store.manifest(newer).write_text(json.dumps(document))

    listing = store.brs("backups", "list", "--json")
    assert [row["version"] for row in json.loads(listing.stdout)] == [older]
    assert "1 manifests could not be read" in listing.stderr
    restored = store.brs("restore")
    assert restored.returncode == 0 and restored.stdout.strip() == older and store.restored() == "one"


def test_swapped_manifests_are_both_skipped(store: Store) -> None:
    oldest = store.backup("one")
    middle = store.backup("two")
    newest = store.backup("three")
    first, second = store.manifest(middle), store.manifest(newest)
    first_text, second_text = first.read_bytes(), second.read_bytes()
    first.write_bytes(second_text)
    second.write_bytes(first_text)

    listing = store.brs("backups", "list", "--json")
    assert [row["version"] for row in json.loads(listing.stdout)] == [oldest]
    assert "2 manifests could not be read" in listing.stderr
    restored = store.brs("restore")
    assert restored.returncode == 0 and restored.stdout.strip() == oldest and store.restored() == "one"


def test_rotated_keys_keep_authenticated_backups_usable(store: Store, tmp_path: Path) -> None:
    older = store.backup("old key")
    (tmp_path / "new-key").write_text(OTHER_KEY)
    rotated = {"BRS_ENCRYPTION_KEY_FILE": str(tmp_path / "new-key"), "BRS_DECRYPTION_KEY_FILE": str(tmp_path / "key")}
    newer = store.backup("new key", **rotated)
    rows = store.listed(**rotated)
    assert [(r["version"], r["status"]) for r in rows] == [(newer, "usable"), (older, "usable")]
    assert store.brs("restore", older, **rotated).returncode == 0 and store.restored() == "old key"
    # Without the old key its backup cannot even be checked: listed, never chosen.
    only_new = {"BRS_ENCRYPTION_KEY_FILE": str(tmp_path / "new-key")}
    statuses = {r["version"]: r["status"] for r in store.listed(**only_new)}
    assert statuses == {newer: "usable", older: "unknown-key"}


def test_format_1_manifests_stay_readable_but_never_outrank_authenticated_ones(store: Store) -> None:
    oldest = store.backup("written by brs 0.1")
    middle = store.backup("authenticated")
    newest = store.backup("format 1 after format 2")
    for version in (oldest, newest):
        store.downgrade(version, 1)

    statuses = {r["version"]: r["status"] for r in store.listed()}
    assert statuses == {oldest: "usable", middle: "usable", newest: "unauthenticated"}
    restored = store.brs("restore")
    assert restored.returncode == 0 and restored.stdout.strip() == middle and store.restored() == "authenticated"
    assert store.brs("restore", oldest).returncode == 0 and store.restored() == "written by brs 0.1"


def test_format_2_manifests_of_the_previous_version_stay_authenticated(store: Store) -> None:
    """A backup written before BLAKE3 (format 2: SHA-256, MAC over the fields it had) is
    listed as usable, restored and verified; a changed byte of its object is still caught."""
    older = store.backup("written with SHA-256")
    store.downgrade(older, 2, key=Path(store.env["BRS_ENCRYPTION_KEY_FILE"]).read_text().strip())
    assert store.document(older)["format_version"] == 2 and "blake3" not in store.document(older)
    newer = store.backup("written with BLAKE3")
    assert {r["version"]: r["status"] for r in store.listed()} == {older: "usable", newer: "usable"}
    verified = store.brs("verify", older, "--json")
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["digest"].startswith("sha256:")
    assert store.brs("restore", older).returncode == 0 and store.restored() == "written with SHA-256"

    data = store.root / store.document(older)["object_name"]
    damaged = bytearray(data.read_bytes())
    damaged[len(damaged) // 2] ^= 1
    data.write_bytes(bytes(damaged))
    assert_one_line_error(store.brs("verify", older), older, "SHA-256 of the stored object does not match")
    assert store.restored() == "written with SHA-256"
