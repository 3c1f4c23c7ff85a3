"""Smaller leaks and leftovers: secrets in child environments and logs, download targets, the
object prefix, leftovers of killed restores and uploads, malformed API requests."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from faultkit import backup_of, cli_env, downloaded_files, listed, visible, write_journal_data
from podsim import Pod, wait_for

from brs.testing.helpers import assert_one_line_error, brs_executable, run_brs

KEY = "0123456789abcdef0123456789abcdef"
SECRET = "hunter2-very-secret"


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_children_get_no_brs_secrets_and_logs_show_none(pods: Callable[..., Pod]) -> None:
    pod = pods()
    pod.env.update({"BRS_ENCRYPTION_KEY": KEY, "BRS_SOME_PASSWORD": "pw-" + SECRET, "REDIS_PASSWORD": SECRET})
    dumped = pod.root / "pre-exec.env"
    pod.start(
        "--pre-exec-cmds", f"sh -c 'env > {dumped}'",
        "--pre-exec-cmds", "true --requirepass $REDIS_PASSWORD",
    )  # fmt: skip
    started = pod.wait_started(1)
    pod.wait_ready()
    database = _environ(int(started["pid"]))
    assert "PATH" in database and database["REDIS_PASSWORD"] == SECRET  # the user's own variables stay
    assert not [name for name in database if name.startswith("BRS_")], sorted(database)
    pre_exec = dict(line.split("=", 1) for line in dumped.read_text().splitlines() if "=" in line)
    assert "PATH" in pre_exec and not [name for name in pre_exec if name.startswith("BRS_")]
    # The command ran with the expanded password, but its log line shows it redacted.
    sidecar_log = (pod.root / f"sidecar-{pod.runs}.log").read_text()
    assert SECRET not in sidecar_log and KEY not in sidecar_log
    commands = [r["command"] for r in pod.log_records() if r.get("msg") == "running pre-exec command"]
    assert "['true', '--requirepass', '***']" in commands, commands
    # The backups are still encrypted with the key the children never saw.
    pod.write("x")
    version = pod.backup()
    rows = json.loads(run_brs("backups", "list", "--json", env=cli_env(pod.data, pod.backups), check=True).stdout)
    assert [(b["version"], b["encrypted"]) for b in rows] == [(version, True)]


def test_download_writes_into_streams_and_never_replaces_them(tmp_path: Path) -> None:
    data, store = tmp_path / "data", tmp_path / "store"
    env = cli_env(data, store, db="localfs")
    write_journal_data(data, ["downloaded"])
    version = backup_of(env)
    expected = {"data/data.txt": b"downloaded\n", "data/data.txt.sha256": (data / "data.txt.sha256").read_bytes()}
    assert downloaded_files(env, version) == expected  # -o - streams to standard output

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    run_brs("download", version, "-o", str(fifo), env=env, check=True)
    reader.join(30)
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and received and b"downloaded\n" in received[0]
    assert not list(tmp_path.glob("*.partial"))

    victim = tmp_path / "victim.txt"
    victim.write_text("not yours")
    link = tmp_path / "link"
    link.symlink_to(victim)
    assert_one_line_error(run_brs("download", version, "-o", str(link), env=env), "symbolic link")
    assert link.is_symlink() and victim.read_text() == "not yours"

    # /dev/stdout is a symlink to a pipe here: written into, and the confirmation goes to stderr.
    piped = subprocess.run([brs_executable(), "download", version, "-o", "/dev/stdout"], env=env, capture_output=True, check=True)
    assert b"downloaded\n" in piped.stdout and version.encode() not in piped.stdout and version in piped.stderr.decode()


def test_an_object_prefix_leaving_the_backup_path_is_refused(tmp_path: Path) -> None:
    data, store = tmp_path / "data", tmp_path / "sub" / "store"
    write_journal_data(data, ["kept home"])
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    for prefix in ("../..", "a/../../b", "./x", "a//b"):
        env = cli_env(data, store, db="localfs", BRS_OBJECT_PREFIX=prefix)
        assert_one_line_error(run_brs("backup", env=env), "--object-prefix", "never writes outside")
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing written anywhere
    env = cli_env(data, store, db="localfs", BRS_OBJECT_PREFIX="tenant/db1")
    version = backup_of(env)
    assert listed(env) == [version] and (store / "tenant" / "db1").is_dir()


def test_leftovers_of_a_killed_restore_and_upload_go_at_the_next_start_but_set_asides_stay(
    pods: Callable[..., Pod], tmp_path: Path
) -> None:
    pod = pods()
    write_journal_data(pod.data, ["current"])
    source = tmp_path / "source"
    write_journal_data(source, ["backed up"])
    version = backup_of(cli_env(source, pod.backups))
    env = cli_env(pod.data, pod.backups, BRS_JOURNALDB_READY_FILE=str(pod.ready), BRS_TEST_KILL_AT="restore-staged")
    assert run_brs("restore", version, env=env).returncode == -9
    (staging,) = [p for p in pod.root.iterdir() if "brs-staging-" in p.name]
    assert (staging / "data.txt").read_text() == "backed up\n"  # a complete, verified copy, never live data
    earlier = pod.root / ".data.brs-previous-20260101T000000Z"
    write_journal_data(earlier, ["set aside by an earlier restore"])
    upload = pod.backups / ".brs-upload-killed.tar.gz-0000"
    upload.write_bytes(b"partial upload")

    pod.start()
    assert pod.wait_started(1)["lines"] == ["current"]  # healthy: no restore
    pod.wait_ready()
    assert not staging.exists() and not upload.exists()
    assert visible(earlier)["data.txt"] == b"set aside by an earlier restore\n"
    assert visible(pod.data)["data.txt"] == b"current\n"
    assert listed(cli_env(pod.data, pod.backups)) == [version]


def _raw_post(port: int, headers: str, timeout: float = 15) -> tuple[int, float]:
    """Send a POST with raw ``headers`` and no body; the status and how long the answer took."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(f"POST /v1/backups HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode())
        answer = sock.recv(4096).decode(errors="replace")
    return int(answer.split()[1]), time.monotonic() - started


def test_the_api_rejects_bad_content_lengths_at_once(pods: Callable[..., Pod]) -> None:
    pod = pods()
    pod.start()
    pod.wait_ready()
    for header in ("Content-Length: abc\r\n", "Content-Length: -1\r\n", "Content-Length: 1e3\r\n"):
        status, took = _raw_post(pod.api_port, header)
        assert status == 400 and took < 10, (header, status, took)
    assert pod.get("/healthz")[0] == 200
    assert listed(cli_env(pod.data, pod.backups)) == []  # none of them started a backup


def test_brs_wait_logs_its_command_redacted_and_passes_no_brs_variables(pods: Callable[..., Pod]) -> None:
    pod = pods()
    pod.env.update({"BRS_ENCRYPTION_KEY": KEY, "REDIS_PASSWORD": SECRET})
    pod.start_sidecar()
    log = pod.root / "custom-waiter.log"
    argv = [brs_executable(), "wait", "--server", pod.url, "--", "sh", "-c", "sleep 120", "sh", "--requirepass", SECRET]
    with open(log, "wb") as out:
        waiter = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=pod.env, start_new_session=True)
    try:
        started = wait_for(
            lambda: [json.loads(line) for line in log.read_text().splitlines() if '"started sh"' in line], 60, "the command"
        )[0]
        assert started["command"] == str(["sh", "-c", "sleep 120", "sh", "--requirepass", "***"])
        assert SECRET not in log.read_text()
        child = _environ(int(started["pid"]))
        assert child["REDIS_PASSWORD"] == SECRET and not [name for name in child if name.startswith("BRS_")]
    finally:
        os.killpg(waiter.pid, 9)
        waiter.wait(30)
