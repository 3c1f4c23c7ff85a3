"""Acceptance: deployments configured only as backup-restore-sidecar was configured back up and
restore with brs: ``BACKUP_RESTORE_SIDECAR_*`` variables, or the old ``config.yaml`` search path
with ``post-exec-cmds`` and ``initializer-endpoint`` for ``brs wait``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import yaml
from podsim import HERE, Pod

from brs.testing import make_tree, run_brs, tree_snapshot
from brs.testing.helpers import brs_executable
from brs.testing.legacy import make_old_backup

KEY = "0123456789abcdef0123456789abcdef"
OLD = "BACKUP_RESTORE_SIDECAR_"


def _clean_env() -> dict[str, str]:
    """The test's environment without BRS_* variables, so only the old names configure brs."""
    return {name: value for name, value in os.environ.items() if not name.startswith(("BRS_", OLD))}


def _run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([brs_executable(), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_old_environment_variables_alone_back_up_and_restore(tmp_path: Path) -> None:
    data = make_tree(tmp_path / "data", big_file_size=1 << 20)
    expected = tree_snapshot(data)
    env = {
        **_clean_env(),
        f"{OLD}DB": "localfs",
        f"{OLD}DB_DATA_DIRECTORY": str(data),
        f"{OLD}BACKUP_PROVIDER": "local",
        f"{OLD}LOCAL_PROVIDER_BACKUP_PATH": str(tmp_path / "store"),
        f"{OLD}ENCRYPTION_KEY": KEY,
        f"{OLD}COMPRESSION_METHOD": "tarlz4",
        f"{OLD}LOG_LEVEL": "info",
        f"{OLD}KEEP_SPECIAL_BITS": "true",  # the tree has a setuid file; brs's own options work too
    }
    backup = _run("create-backup", env=env, cwd=tmp_path)  # the old verb
    assert backup.returncode == 0, backup.stderr
    deprecations = [line for line in backup.stderr.splitlines() if "deprecated" in line]
    assert len(deprecations) == 1 and f"{OLD}DB_DATA_DIRECTORY" in deprecations[0] and KEY not in backup.stderr
    listing = _run("restore", "ls", env=env, cwd=tmp_path)  # the old verb for listing
    assert listing.returncode == 0 and backup.stdout.strip() in listing.stdout
    rows = json.loads(_run("backups", "list", "--json", env=env, cwd=tmp_path).stdout)
    assert rows[0]["compression"] == "tarlz4" and rows[0]["encrypted"] is True

    # BRS_* wins over the old name.
    newer = _run("backup", env={**env, "BRS_COMPRESSION_METHOD": "tar"}, cwd=tmp_path)
    assert json.loads(_run("backups", "list", "--json", env=env, cwd=tmp_path).stdout)[0]["compression"] == "tar"

    os.rename(data, tmp_path / "gone")
    restored = _run("restore", env=env, cwd=tmp_path)
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.strip() == newer.stdout.strip()
    assert tree_snapshot(data) == expected


def _journal_upload(root: Path, lines: list[str]) -> Path:
    import hashlib

    files = root / "files"
    files.mkdir(parents=True)
    content = "".join(line + "\n" for line in lines).encode()
    (files / "data.txt").write_bytes(content)
    (files / "data.txt.sha256").write_text(hashlib.sha256(content).hexdigest() + "\n")
    return root


def test_old_config_file_alone_runs_the_pod_and_brs_wait_takes_post_exec_cmds(pods: Callable[..., Pod]) -> None:
    pod = pods()
    home = pod.root / "home"
    config = {
        "db": "journaldb",
        "db-data-directory": str(pod.data),
        "backup-provider": "local",
        "local-provider-backup-path": str(pod.backups),
        "bind-addr": "127.0.0.1",
        "port": pod.api_port,
        "metrics-port": pod.metrics_port,
        "metrics-bind-addr": "127.0.0.1",
        "backup-cron-schedule": "0 0 1 1 *",
        "probe-interval": 0.2,
        "journaldb-ready-file": str(pod.ready),
        "compression-method": "tar",
        "encryption-key": KEY,
        "initializer-endpoint": f"http://127.0.0.1:{pod.api_port}/",
        # $VAR and ${VAR} are expanded on this path, then the line is split on white space.
        "post-exec-cmds": [f"$FAKEDB_PYTHON ${{FAKEDB}} {pod.data} {pod.inbox} {pod.report} {pod.ready}"],
    }
    (home / ".backup-restore-sidecar").mkdir(parents=True)
    (home / ".backup-restore-sidecar" / "config.yaml").write_text(yaml.safe_dump(config))
    make_old_backup(_journal_upload(pod.root / "old", ["from-the-old-tool"]), pod.backups / "0.tar.aes", "tar", KEY)
    env = {**_clean_env(), **{k: v for k, v in pod.env.items() if k == "PYTHONPATH"}, "HOME": str(home)}
    env.update(FAKEDB_PYTHON=sys.executable, FAKEDB=str(HERE / "fakedb.py"), BRS_LOG_FORMAT="json")

    def start() -> None:
        pod.runs += 1
        for which, argv in (("sidecar", ["start"]), ("waiter", ["wait"])):
            log = open(pod.root / f"{which}-{pod.runs}.log", "wb")  # noqa: SIM115 - the child writes to it
            process = subprocess.Popen(
                [brs_executable(), *argv], env=env, cwd=pod.root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            setattr(pod, which, process)

    start()
    assert pod.wait_started(1)["lines"] == ["from-the-old-tool"], pod.logs() + pod.logs("waiter")
    # The keys only brs wait reads are not reported as unknown by brs start.
    assert "post_exec_cmds" not in pod.logs() and "initializer_endpoint" not in pod.logs()
    pod.wait_ready()
    pod.write("written-after-the-switch")
    version = pod.backup()
    pod.kill()
    for path in pod.data.iterdir():
        path.unlink()
    start()
    assert pod.wait_started(2)["lines"] == ["from-the-old-tool", "written-after-the-switch"], pod.logs()
    # The config names the test database plugin's option: list where that plugin is installed.
    listed = run_brs("backups", "list", "--json", "--local-provider-backup-path", str(pod.backups), env=env)
    assert version in [row["version"] for row in json.loads(listed.stdout)]
