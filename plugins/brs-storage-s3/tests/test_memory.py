"""A 300 MiB backup streams through S3 with bounded memory."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from brs.testing import listed_backups
from s3_servers import Moto, moto_target, run_measured, unique_bucket

_MiB = 1 << 20
LIMIT_KIB = 150 * 1024


@pytest.mark.slow
def test_300_mib_up_and_down_under_150_mib_rss(tmp_path: Path, moto: Moto) -> None:
    env = {**moto_target(moto).env(tmp_path, unique_bucket(), prefix="big"), "BRS_COMPRESSION_METHOD": "tar"}
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
