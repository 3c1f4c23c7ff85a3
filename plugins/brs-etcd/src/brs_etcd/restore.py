"""Turning a snapshot file into a member data directory with etcdutl (or etcdctl on 3.4)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from brs import processes
from brs.errors import ConfigError, DatabaseError
from brs_etcd.options import EtcdOptions

__all__ = ["find_restore_tool", "restore_snapshot"]

_TIMEOUT = 3600


def find_restore_tool(configured: str | None) -> str:
    """``etcdutl`` (etcd >= 3.5; ``etcdctl snapshot restore`` is deprecated there), else 3.4's ``etcdctl``."""
    if configured:
        path = shutil.which(configured) or (configured if os.access(configured, os.X_OK) else None)
        if path is None:
            raise ConfigError(f"--etcd-restore-tool {configured} is not an executable program")
        return path
    for name in ("etcdutl", "etcdctl"):
        if path := shutil.which(name):
            return path
    raise DatabaseError("restoring etcd needs etcdutl (etcd >= 3.5) or etcdctl (etcd 3.4) on PATH, or --etcd-restore-tool")


def restore_snapshot(tool: str, snapshot: Path, data_dir: Path, member: EtcdOptions) -> None:
    """Run ``<tool> snapshot restore`` into ``data_dir``, which must not exist yet."""
    env = dict(os.environ)
    if "etcdutl" not in Path(tool).name:
        env["ETCDCTL_API"] = "3"  # etcdctl 3.4 speaks the v2 API unless told otherwise
    command = [
        tool, "snapshot", "restore", str(snapshot),
        "--data-dir", str(data_dir),
        "--name", member.name,
        "--initial-cluster", member.cluster,
        "--initial-cluster-token", member.initial_cluster_token,
        "--initial-advertise-peer-urls", member.initial_advertise_peer_urls,
    ]  # fmt: skip
    try:
        result = processes.run(
            command, env=env, capture_output=True, text=True, timeout=_TIMEOUT, check=False, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise DatabaseError(f"{Path(tool).name} snapshot restore could not run: {error}") from None
    if result.returncode != 0:
        raise DatabaseError(
            f"{Path(tool).name} snapshot restore failed (exit {result.returncode}): {_last_line(result.stderr + result.stdout)}"
        )


def _last_line(output: str) -> str:
    # etcdutl logs JSON lines; the error is the last non-empty one.
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1][:500] if lines else "no output"
