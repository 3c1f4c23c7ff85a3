"""The documented backup-cycle script against S3 (moto): JSON results and exit statuses only."""

from __future__ import annotations

import json
from pathlib import Path

from brs_storage_s3.testing import Moto, moto_target, unique_bucket

from brs.errors import StorageError
from brs.testing import run_brs
from brs.processes import free_port
from brs.testing.helpers import assert_one_line_error, run_backup_cycle
import pytest

pytestmark = pytest.mark.server("s3")


def test_the_backup_cycle_script_on_s3(moto: Moto, tmp_path: Path) -> None:
    env = moto_target(moto).env(tmp_path, unique_bucket(), prefix="scripts")
    env["BRS_ENCRYPTION_KEY_FILE"] = str(tmp_path / "key")
    data = Path(env["BRS_DB_DATA_DIRECTORY"])
    data.mkdir()
    (data / "f").write_text("on s3")
    result = run_backup_cycle(env)
    assert result.returncode == 0, result.stderr
    version = result.stdout.strip()
    assert (data / "f").read_text() == "on s3"
    rows = json.loads(run_brs("backups", "list", "--json", env=env, check=True).stdout)
    assert [row["version"] for row in rows] == [version]


def test_unreachable_s3_exits_with_the_storage_status(tmp_path: Path) -> None:
    env = {
        "BRS_BACKUP_PROVIDER": "s3",
        "BRS_S3_BUCKET_NAME": "nowhere",
        "BRS_S3_ENDPOINT": f"http://127.0.0.1:{free_port()}",
        "BRS_S3_REGION": "us-east-1",
        "BRS_S3_ACCESS_KEY": "a",
        "BRS_S3_SECRET_KEY": "b",
        "BRS_S3_MAX_ATTEMPTS": "1",
    }
    assert_one_line_error(run_brs("backups", "list", env=env), exit_code=StorageError.exit_code)
