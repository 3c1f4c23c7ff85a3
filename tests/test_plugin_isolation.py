"""A broken plugin that a run does not select never stops it; a selected one fails clearly."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from brs.testing import run_brs
from brs.testing.helpers import expected_failure


@pytest.fixture
def broken_plugins(tmp_path: Path) -> dict[str, str]:
    """A real installed distribution (dist-info on the path) whose plugins fail on import: the
    database plugin's module raises, the hook plugin's module does not exist."""
    site = tmp_path / "site"
    info = site / "brs_broken-9.9.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: brs-broken\nVersion: 9.9\n")
    (info / "entry_points.txt").write_text(
        "[brs.database]\nbroken = brs_broken_fails:Broken\n\n[brs.hooks]\nbroken-hook = brs_broken_missing_module\n"
    )
    (site / "brs_broken_fails.py").write_text("raise RuntimeError('this plugin is broken on import')\n")
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH", "")]))}


def test_an_unselected_broken_plugin_does_not_stop_a_backup(
    tmp_path: Path, brs_env: dict[str, str], broken_plugins: dict[str, str]
) -> None:
    data = Path(brs_env["BRS_DB_DATA_DIRECTORY"])
    data.mkdir()
    (data / "file").write_text("x")
    env = {**brs_env, **broken_plugins}
    result = run_brs("backup", env=env)
    assert result.returncode == 0, result.stderr
    assert "broken-hook" in result.stderr  # the broken listener is reported once, as a warning
    listed = json.loads(run_brs("backups", "list", "--json", env=env, check=True).stdout)
    assert len(listed) == 1


def test_plugins_list_marks_the_broken_plugin(broken_plugins: dict[str, str]) -> None:
    rows = json.loads(run_brs("plugins", "list", "--check", "--json", env=broken_plugins, check=True).stdout)
    broken = {r["name"]: r for r in rows if r["distribution"] == "brs-broken"}
    assert broken["broken"]["status"] == "broken" and "this plugin is broken on import" in broken["broken"]["error"]
    assert broken["broken-hook"]["status"] == "broken" and "brs_broken_missing_module" in broken["broken-hook"]["error"]
    assert broken["broken"]["version"] == "9.9"
    assert all(r["status"] == "ok" for r in rows if r["distribution"] == "brs")


def test_selecting_the_broken_plugin_is_one_clear_line(brs_env: dict[str, str], broken_plugins: dict[str, str]) -> None:
    result = run_brs("backup", env={**brs_env, **broken_plugins, "BRS_DB": "broken"})
    assert expected_failure(result.returncode)
    errors = [line for line in result.stderr.splitlines() if line.startswith("brs: error:")]
    assert len(errors) == 1 and "brs-broken 9.9" in errors[0] and "failed to load" in errors[0]
    assert "this plugin is broken on import" in errors[0]
