"""One backup, restore or retention at a time per data directory, across every brs process, and
no local restore under a running server."""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from faultkit import backup_of, cli_env, listed, visible, write_journal_data
from podsim import Pod, wait_for

from brs.testing.helpers import assert_one_line_error, brs_executable, run_brs


def _slow_backup(env: dict[str, str], delay: float = 4.0) -> subprocess.Popen[str]:
    """A CLI backup whose dump sleeps ``delay`` seconds while it holds the lock."""
    return subprocess.Popen(
        [brs_executable(), "backup", "--journaldb-dump-delay", str(delay)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_until_locked(data: Path) -> None:
    lock = data / ".brs-lock" if os.path.ismount(data) else data.parent / f".{data.name}.brs-lock"
    wait_for(lambda: lock.exists() and lock.read_text().startswith("backup "), 60, "the backup to take the lock")


def test_a_cli_restore_during_a_cli_backup_is_refused_and_the_backup_stays_whole(tmp_path: Path) -> None:
    data, store = tmp_path / "data", tmp_path / "store"
    env = cli_env(data, store)
    write_journal_data(data, ["first"])
    first = backup_of(env)
    write_journal_data(data, ["second"])
    slow = _slow_backup(env)
    _wait_until_locked(data)
    restore = run_brs("restore", first, env=cli_env(data, store, db="localfs"))
    line = assert_one_line_error(restore, "busy: a backup (pid", "--lock-wait")
    assert f"pid {slow.pid}," in line
    out, err = slow.communicate(timeout=120)
    assert slow.returncode == 0, err
    second = out.strip()
    assert visible(data)["data.txt"] == b"second\n"  # the refused restore changed nothing
    assert listed(env) == [second, first]
    run_brs("verify", second, env=env, check=True)
    download = tmp_path / "second.tar"
    run_brs("download", second, "-o", str(download), env=env, check=True)
    assert b"second\n" in download.read_bytes() and b"first\n" not in download.read_bytes()


def test_a_second_backup_is_busy_and_only_one_is_stored(tmp_path: Path) -> None:
    data, store = tmp_path / "data", tmp_path / "store"
    env = cli_env(data, store)
    write_journal_data(data, ["only"])
    slow = _slow_backup(env)
    _wait_until_locked(data)
    assert_one_line_error(run_brs("backup", env=env), "busy: a backup")
    out, _err = slow.communicate(timeout=120)
    assert listed(env) == [out.strip()]


def test_a_volume_root_is_locked_and_left_as_it_was(tmpfs: Callable[..., Path], tmp_path: Path) -> None:
    data, store = tmpfs(tmp_path / "data"), tmp_path / "store"
    env = cli_env(data, store)
    write_journal_data(data, ["on a volume"])
    slow = _slow_backup(env)
    _wait_until_locked(data)
    line = assert_one_line_error(
        run_brs("restore", "latest", "--lock-wait", "0.5", env=cli_env(data, store, db="localfs")), "busy"
    )
    assert f"pid {slow.pid}," in line
    out, _err = slow.communicate(timeout=120)
    assert listed(env) == [out.strip()]
    # The volume root itself was locked: nothing of the lock stays in it (an initdb wants it empty).
    assert sorted(p.name for p in data.iterdir()) == ["data.txt", "data.txt.sha256"]


def test_lock_wait_queues_the_second_backup(tmp_path: Path) -> None:
    data, store = tmp_path / "data", tmp_path / "store"
    env = cli_env(data, store)
    write_journal_data(data, ["queued"])
    slow = _slow_backup(env, delay=2.0)
    _wait_until_locked(data)
    time.sleep(1.1)  # a distinct backup id
    second = run_brs("backup", "--lock-wait", "60", env=env, check=True).stdout.strip()
    out, _err = slow.communicate(timeout=120)
    assert sorted(listed(env)) == sorted([out.strip(), second])


def test_a_cli_backup_during_a_sidecar_backup_names_the_sidecar(pods: Callable[..., Pod]) -> None:
    pod = pods()
    pod.start("--journaldb-dump-delay", "4")
    pod.wait_ready()
    pod.write("alpha")
    answer: dict[str, object] = {}
    thread = threading.Thread(target=lambda: answer.update(version=pod.backup()))
    thread.start()
    _wait_until_locked(pod.data)
    assert pod.sidecar is not None
    env = cli_env(pod.data, pod.backups)
    line = assert_one_line_error(run_brs("backup", env=env), "busy: a backup")
    assert re.search(rf"pid {pod.sidecar.pid}\b", line), line
    thread.join(120)
    assert listed(env) == [answer["version"]]
    # The sidecar's own lock still answers its callers.
    status, document = pod.post("/v1/backups")
    assert status == 201, document


def test_a_local_restore_refuses_while_the_server_answers(pods: Callable[..., Pod]) -> None:
    pod = pods()
    pod.start()
    pod.wait_ready()
    pod.write("before")
    version = pod.backup()
    pod.write("after")
    env = cli_env(pod.data, pod.backups, BRS_JOURNALDB_READY_FILE=str(pod.ready))
    line = assert_one_line_error(run_brs("restore", version, env=env), "server is running", "--server")
    assert "--ignore-running-server" in line
    assert (pod.data / "data.txt").read_text() == "before\nafter\n"
    assert not [p for p in pod.data.parent.iterdir() if "brs-previous" in p.name]
    assert len(pod.starts()) == 1  # the database ran on, untouched
    # Through the sidecar it works: the database is stopped, restored and started again.
    assert run_brs("restore", version, "--server", pod.url, env=env, check=True).stdout.strip() == version
    assert pod.wait_started(2)["lines"] == ["before"]


def test_ignore_running_server_overrides_the_refusal(tmp_path: Path) -> None:
    data, store, ready = tmp_path / "data", tmp_path / "store", tmp_path / "ready"
    env = cli_env(data, store, BRS_JOURNALDB_READY_FILE=str(ready))
    write_journal_data(data, ["backed up"])
    version = backup_of(env)
    write_journal_data(data, ["later"])
    ready.write_text("1")  # the "server" answers
    assert_one_line_error(run_brs("restore", version, env=env), "server is running")
    assert visible(data)["data.txt"] == b"later\n"
    run_brs("restore", version, "--ignore-running-server", env=env, check=True)
    assert visible(data)["data.txt"] == b"backed up\n"
