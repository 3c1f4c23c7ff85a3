"""Acceptance through the real CLI: backup, wipe, restore, compare; against the Azurite."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from brs.testing import listed_backups, make_tree, run_brs, tree_snapshot
from azure_servers import Azurite, unique_container

SUFFIX = {"tar": ".tar", "targz": ".tar.gz", "tarlz4": ".tar.lz4", "tarzst": ".tar.zst"}


@pytest.mark.parametrize("method", list(SUFFIX))
def test_encrypted_round_trip(tmp_path: Path, azurite: Azurite, method: str) -> None:
    env = {**azurite.env(tmp_path, unique_container(), prefix="cluster/pg-0"), "BRS_COMPRESSION_METHOD": method}
    env["BRS_ENCRYPTION_KEY_FILE"] = str(tmp_path / "key")
    data = make_tree(Path(env["BRS_DB_DATA_DIRECTORY"]), big_file_size=1 << 20)
    expected = tree_snapshot(data)

    version = run_brs("backup", env=env, check=True).stdout.strip()
    backups = listed_backups(env)
    assert [b["version"] for b in backups] == [version]
    assert backups[0]["name"] == version + SUFFIX[method] + ".aes"

    shutil.rmtree(data)
    assert run_brs("restore", "latest", env=env, check=True).stdout.strip() == version
    assert tree_snapshot(data) == expected
