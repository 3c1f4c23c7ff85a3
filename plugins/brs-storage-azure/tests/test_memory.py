"""A 300 MiB backup streams through Azure Blob storage with bounded memory."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from brs.testing import listed_backups
from azure_servers import Azurite, unique_container
from brs.testing.helpers import brs_executable

_MiB = 1 << 20
LIMIT_KIB = 150 * 1024


def run_measured(*args: str, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], int]:
    """Run ``brs`` and sample its VmHWM (peak RSS, KiB) from /proc until it exits."""
    process = subprocess.Popen(
        [brs_executable(), *args], env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    peak, done = 0, threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                status = Path(f"/proc/{process.pid}/status").read_text()
                peak = max(peak, int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]))
            except (OSError, ValueError, StopIteration):
                pass
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        stdout, stderr = process.communicate(timeout=600)
    finally:
        done.set()
        sampler.join()
        if process.poll() is None:
            process.kill()
            process.wait()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr), peak


@pytest.mark.slow
def test_300_mib_up_and_down_under_150_mib_rss(tmp_path: Path, azurite_factory: Callable[..., Any]) -> None:
    server: Azurite = azurite_factory(directory=tmp_path / "azurite")  # on disk: Azurite's memory is not ours to spend
    env = {**server.env(tmp_path, unique_container(), prefix="big"), "BRS_COMPRESSION_METHOD": "tar"}
    data = Path(env["BRS_DB_DATA_DIRECTORY"])
    data.mkdir()
    block = os.urandom(_MiB)
    with open(data / "random.bin", "wb") as out:  # incompressible: tar passes it through at full size
        for i in range(300):
            out.write(block[i:] + block[:i])

    backup, backup_peak = run_measured("backup", env=env)
    assert backup.returncode == 0, backup.stderr
    assert listed_backups(env)[0]["size"] > 300 * _MiB
    shutil.rmtree(data)
    restore, restore_peak = run_measured("restore", "latest", env=env)
    assert restore.returncode == 0, restore.stderr
    assert (data / "random.bin").stat().st_size == 300 * _MiB
    print(f"peak RSS: backup {backup_peak / 1024:.0f} MiB, restore {restore_peak / 1024:.0f} MiB")
    assert backup_peak < LIMIT_KIB, f"backup peak RSS {backup_peak / 1024:.0f} MiB"
    assert restore_peak < LIMIT_KIB, f"restore peak RSS {restore_peak / 1024:.0f} MiB"
