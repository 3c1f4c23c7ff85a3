"""Two databases on one prefix (a StatefulSet scaled past one pod with one configuration) never
restore or prune each other's backups, and a pod that lost its volume still finds its own."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from faultkit import write_journal_data
from podsim import Pod, metric_value, wait_for

from brs.testing import assert_one_line_error
from brs.testing.tampering import Store, past_id


@pytest.fixture
def store(tmp_path: Path, brs_env: dict[str, str]) -> Store:
    return Store.of(brs_env, BRS_ENCRYPTION_KEY_FILE=str(tmp_path / "key"))


def test_restore_and_retention_keep_to_their_own_database(store: Store) -> None:
    zero = [store.backup(f"db-0 #{n}", BRS_POD_NAME="db-0") for n in (1, 2)]
    one = store.backup("db-1 #1", BRS_POD_NAME="db-1")
    rows = {r["version"]: r for r in store.listed(BRS_POD_NAME="db-1")}
    assert {rows[v]["status"] for v in zero} == {"other-database"} and rows[one]["status"] == "usable"
    assert rows[one]["identity"]["host"] == "db-1"

    (store.data / "state.txt").write_text("current")
    restored = store.brs("restore", BRS_POD_NAME="db-1")
    assert restored.returncode == 0 and restored.stdout.strip() == one and store.restored() == "db-1 #1"

    # Retention of db-1 with --object-max-keep 1 prunes only db-1's backups.
    newest = store.backup("db-1 #2", BRS_POD_NAME="db-1", BRS_OBJECT_MAX_KEEP="1")
    assert set(store.manifests()) == {*zero, newest}

    # A third pod with no backups of its own is told so, and starts nothing from db-0's data.
    fresh = store.brs("restore", BRS_POD_NAME="db-2")
    assert_one_line_error(fresh, "no backup of this database (db-2)", "other databases", "--allow-other-identity")
    assert store.restored() == "db-1 #2"
    adopted = store.brs("restore", "--allow-other-identity", BRS_POD_NAME="db-2")
    assert adopted.returncode == 0 and adopted.stdout.strip() == newest
    # A version named explicitly is restored, with a warning.
    named = store.brs("restore", zero[0], BRS_POD_NAME="db-1")
    assert named.returncode == 0 and "belongs to another database" in named.stderr and store.restored() == "db-0 #1"


def _pod(pods: Callable[..., Pod], name: str, backups: Path | None = None) -> Pod:
    pod = pods(name)
    pod.env["BRS_POD_NAME"] = name
    if backups is not None:
        pod.backups = backups
    return pod


def _unusable(pod: Pod, reason: str) -> float:
    """``brs_backups_unusable{reason}`` once the sidecar has published it (after its start-up)."""
    found = wait_for(lambda: metric_value(pod.metrics(), "brs_backups_unusable", [("reason", reason)]), 60, reason)
    return float(found)


def _messages(pod: Pod) -> str:
    return "\n".join(str(r.get("msg", "")) for r in pod.log_records())


def test_a_second_pod_starts_empty_and_the_first_finds_its_own(pods: Callable[..., Pod]) -> None:
    first = _pod(pods, "db-0")
    write_journal_data(first.data, ["zero"])
    first.start()
    assert first.wait_started(1)["lines"] == ["zero"]
    first.wait_ready()
    first.backup()  # besides the first backup taken at start

    second = _pod(pods, "db-1", first.backups)
    second.start()
    assert second.wait_started(1)["lines"] == [], second.logs()
    second.wait_ready()
    assert "of other databases (db-0" in _messages(second) and "EMPTY" in _messages(second)
    zeros = [b for b in second.get("/v1/backups")[1]["backups"] if b["identity"]["host"] == "db-0"]
    assert zeros and {b["status"] for b in zeros} == {"other-database"}
    assert _unusable(second, "other-database") == len(zeros)
    second.write("one")
    second.backup()
    second.kill()

    first.kill()
    shutil.rmtree(first.data)  # the volume was lost
    first.start()
    assert first.wait_started(2)["lines"] == ["zero"], first.logs()
    hosts = {row["identity"]["host"] for row in first.get("/v1/backups")[1]["backups"]}
    assert hosts == {"db-0", "db-1"}


def test_the_sidecar_never_restores_a_planted_unencrypted_backup(pods: Callable[..., Pod], tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("0123456789abcdef0123456789abcdef\n")
    pod = _pod(pods, "db-0")
    write_journal_data(pod.data, ["alpha"])
    pod.start("--encryption-key-file", str(key))
    pod.wait_started(1)
    pod.wait_ready()
    pod.backup()
    pod.kill()

    planted_source = tmp_path / "planted"
    write_journal_data(planted_source, ["planted"])
    attacker = Store({}, pod.backups, planted_source)
    attacker.plant_plain_backup(past_id(-30 / 86400, "bad002"), "ignored")
    shutil.rmtree(pod.data)
    pod.start("--encryption-key-file", str(key))
    assert pod.wait_started(2)["lines"] == ["alpha"], pod.logs()
    assert "1 unencrypted" in _messages(pod)
    pod.wait_ready()
    assert _unusable(pod, "unencrypted") == 1.0
    assert metric_value(pod.metrics(), "brs_backups_unusable", [("reason", "tampered")]) == 0.0
