"""Deleting one backup: exact version, manifest first, never the last one by accident."""

from __future__ import annotations

import json
from pathlib import Path

from brs.testing import run_brs
from brs.testing.helpers import assert_one_line_error


def _backup(env: dict[str, str], text: str) -> str:
    data = Path(env["BRS_DB_DATA_DIRECTORY"])
    data.mkdir(exist_ok=True)
    (data / "f").write_text(text)
    return run_brs("backup", env=env, check=True).stdout.strip()


def _listed(env: dict[str, str]) -> list[str]:
    return [b["version"] for b in json.loads(run_brs("backups", "list", "--json", env=env, check=True).stdout)]


def test_delete_removes_exactly_one_backup_and_its_objects(tmp_path: Path, brs_env: dict[str, str]) -> None:
    first, second = _backup(brs_env, "one"), _backup(brs_env, "two")
    result = run_brs("backups", "delete", first, env=brs_env, check=True)
    assert result.stdout.strip() == f"deleted {first}"
    assert _listed(brs_env) == [second]
    assert not [p for p in (tmp_path / "store").iterdir() if p.name.startswith(first)]
    run_brs("verify", second, env=brs_env, check=True)


def test_delete_refuses_latest_unknown_and_the_last_backup(tmp_path: Path, brs_env: dict[str, str]) -> None:
    only = _backup(brs_env, "only")
    assert_one_line_error(run_brs("backups", "delete", "latest", env=brs_env), "by its version")
    assert_one_line_error(run_brs("backups", "delete", "20200101T000000000000Z-000000", env=brs_env), "not found")
    assert_one_line_error(run_brs("backups", "delete", only, env=brs_env), "only backup", "--force")
    assert _listed(brs_env) == [only]
    run_brs("backups", "delete", only, "--force", env=brs_env, check=True)
    assert _listed(brs_env) == []
