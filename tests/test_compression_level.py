"""Acceptance: --compression-level trades CPU for stored size through the real CLI, every level
restores, and a level the method does not have is refused before anything is stored or started."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from brs.testing import run_brs, tree_snapshot


def _text_tree(data: Path) -> None:
    for n in range(40):
        lines = (f"{n:04d} {i:08d} status=ok user=u{i % 97} amount={i * 37 % 10007}.{i % 100:02d}\n" for i in range(4000))
        (data / f"log-{n:02d}.txt").write_text("".join(lines))


def _stored_size(env: dict[str, str], version: str) -> int:
    listed = json.loads(run_brs("backups", "list", "--json", env=env, check=True).stdout)
    (entry,) = [b for b in listed if b["version"] == version]
    return int(entry["size"])


def test_a_higher_level_stores_less_and_every_level_restores(brs_env: dict[str, str]) -> None:
    data = Path(brs_env["BRS_DB_DATA_DIRECTORY"])
    data.mkdir()
    _text_tree(data)
    expected = tree_snapshot(data)
    env = {**brs_env, "BRS_COMPRESSION_METHOD": "tarzst"}
    fast = run_brs("backup", "--compression-level", "-7", env=env, check=True).stdout.strip()
    small = run_brs("backup", env={**env, "BRS_COMPRESSION_LEVEL": "19"}, check=True).stdout.strip()
    assert _stored_size(env, small) < 0.8 * _stored_size(env, fast)
    for version in (fast, small):
        shutil.rmtree(data)
        run_brs("restore", version, env=env, check=True)
        assert tree_snapshot(data) == expected


def test_a_level_the_method_does_not_have_is_refused_before_anything_is_stored(brs_env: dict[str, str]) -> None:
    data = Path(brs_env["BRS_DB_DATA_DIRECTORY"])
    data.mkdir()
    (data / "table").write_text("rows")
    for method, level, message in (
        ("targz", "9", "--compression-level 9: targz takes 0 to 3"),
        ("tarlz4", "-1", "--compression-level -1: tarlz4 takes 0 to 12"),
        ("tar", "1", "--compression-level: tar has no compression levels"),
    ):
        env = {**brs_env, "BRS_COMPRESSION_METHOD": method}
        for command in ("backup", "start"):  # the sidecar refuses it at start, not at its first backup
            result = run_brs(command, "--compression-level", level, env=env, timeout=120)
            assert result.returncode == 2, result.stderr
            assert result.stderr.strip() == f"brs: error: {message}"
    store = Path(brs_env["BRS_LOCAL_PROVIDER_BACKUP_PATH"])
    assert not store.exists() or not any(store.iterdir())
    assert (data / "table").read_text() == "rows"
