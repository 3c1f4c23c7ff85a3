"""A swap killed half-way is finished at the next start, restore or backup: the data directory
holds the old or the new content, never a mix, and nothing is lost."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from faultkit import backup_of, cli_env, downloaded_files, listed, visible, write_journal_data
from podsim import Pod

from brs.testing.helpers import run_brs

OLD = {"a.txt": b"old a", "b.txt": b"old b"}
NEW = {"c.txt": b"new c", "d.txt": b"new d"}


def _killed_restore(data: Path, store: Path, version: str, point: str) -> None:
    env = cli_env(data, store, BRS_JOURNALDB_READY_FILE=str(data.parent / "no-server"), BRS_TEST_KILL_AT=point)
    result = run_brs("restore", version, env=env)
    assert result.returncode == -9, (result.returncode, result.stderr)


def _new_backup(store: Path, source: Path) -> str:
    write_journal_data(source, ["new"], NEW)
    return backup_of(cli_env(source, store))


def _asides(parent: Path, kind: str) -> list[Path]:
    return sorted(p for p in parent.iterdir() if f"brs-{kind}-" in p.name)


def test_a_start_after_a_kill_mid_swap_into_a_volume_root_runs_the_new_data(
    pods: Callable[..., Pod], tmpfs: Callable[..., Path], tmp_path: Path
) -> None:
    pod = pods()
    tmpfs(pod.data)
    write_journal_data(pod.data, ["old"], OLD)
    old_content = visible(pod.data)
    version = _new_backup(pod.backups, tmp_path / "source")
    _killed_restore(pod.data, pod.backups, version, "swap-aside")
    # Killed after the first entry moved: half of the old content is still in place, and
    # journaldb's check alone would call it healthy.
    assert (pod.data / ".brs-swap.json").exists()
    assert set(visible(pod.data)) == set(old_content) - {"a.txt"}

    pod.start()
    assert pod.wait_started(1)["lines"] == ["new"]
    assert visible(pod.data) == visible(tmp_path / "source")
    assert not (pod.data / ".brs-swap.json").exists()
    (previous,) = _asides(pod.data, "previous")
    assert visible(previous) == old_content  # every old entry kept, none lost
    assert not [p for p in pod.data.iterdir() if "staging" in p.name]
    assert any("interrupted while it swapped" in str(r.get("msg")) for r in pod.log_records())
    assert "Traceback" not in pod.logs()


def test_a_backup_after_a_kill_mid_swap_stores_the_whole_new_content(tmpfs: Callable[..., Path], tmp_path: Path) -> None:
    data, store = tmpfs(tmp_path / "data"), tmp_path / "store"
    write_journal_data(data, ["old"], OLD)
    version = _new_backup(store, tmp_path / "source")
    _killed_restore(data, store, version, "swap-in")
    assert "c.txt" in visible(data) and "d.txt" not in visible(data)  # half of the new content arrived

    after = backup_of(cli_env(data, store))
    assert visible(data) == visible(tmp_path / "source")
    assert listed(cli_env(data, store)) == [after, version]
    stored = downloaded_files(cli_env(data, store), after)
    assert {name.removeprefix("data/"): body for name, body in stored.items()} == visible(tmp_path / "source")


def test_a_restore_after_a_kill_between_renames_finishes_the_first_and_keeps_both(tmp_path: Path) -> None:
    data, store = tmp_path / "data", tmp_path / "store"
    write_journal_data(data, ["older"])
    older = backup_of(cli_env(data, store))
    write_journal_data(data, ["old"], OLD)
    old_content = visible(data)
    version = _new_backup(store, tmp_path / "source")
    _killed_restore(data, store, version, "swap-rename")
    assert not data.exists()  # the old content was renamed aside, the new not yet in place

    env = cli_env(data, store, BRS_JOURNALDB_READY_FILE=str(tmp_path / "no-server"))
    run_brs("restore", older, env=env, check=True)
    assert visible(data)["data.txt"] == b"older\n"
    kept = [visible(p) for p in _asides(tmp_path, "previous")]
    assert old_content in kept and visible(tmp_path / "source") in kept  # both earlier states kept
    assert not _asides(tmp_path, "staging") and not (tmp_path / ".data.brs-swap.json").exists()
