"""Hostile archives planted in the store: ``brs restore`` and ``brs verify`` refuse them with one
line, exit 1, write nothing outside the data directory, and leave the data directory and its
neighbours exactly as they were.

Each archive is planted twice: as an unencrypted backup (anyone who can write to the bucket)
and as an encrypted one that authenticates perfectly (a stolen key, a malicious writer).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from brs.testing import run_brs, tree_snapshot
from brs.testing import hostile
from brs.testing.helpers import expected_failure

PREFIX = "data/"
KEY = "hostile-archives-0123456789abcde"


@dataclass
class Planted:
    env: dict[str, str]
    data: Path
    victim: Path
    stored: Path
    key: str | None

    def plant(self, payload: bytes) -> None:
        hostile.plant_backup(self.stored, payload, self.key)


@pytest.fixture(scope="module")
def backups(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One small backup per mode, taken once: each test plants its archive into a copy."""
    made = {}
    for mode in ("unencrypted", "encrypted"):
        root = tmp_path_factory.mktemp(mode)
        (root / "key").write_text(KEY + "\n")
        (root / "data" / "sub").mkdir(parents=True)
        (root / "data" / "sub" / "table").write_bytes(b"rows\n")
        run_brs("backup", env=_env(root, mode), check=True)
        made[mode] = root
    return made


def _env(root: Path, mode: str) -> dict[str, str]:
    env = {
        "BRS_DB": "localfs",
        "BRS_DB_DATA_DIRECTORY": str(root / "data"),
        "BRS_LOCAL_PROVIDER_BACKUP_PATH": str(root / "store"),
        "BRS_LOG_FORMAT": "json",
        "BRS_COMPRESSION_METHOD": "targz",
    }
    if mode == "encrypted":
        env.update(BRS_ENCRYPTION_KEY_FILE=str(root / "key"), BRS_COMPRESSION_METHOD="tarzst")
    return env


@pytest.fixture(params=["unencrypted", "encrypted"])
def planted(request: pytest.FixtureRequest, tmp_path: Path, backups: dict[str, Path]) -> Planted:
    """A copy of a small backup in local storage, ready to have its content replaced, and a
    victim file next to the data directory."""
    mode = request.param
    for name in ("data", "store", "key"):
        copy = shutil.copytree if name != "key" else shutil.copy2
        copy(backups[mode] / name, tmp_path / name)
    stored = next(p for p in (tmp_path / "store").iterdir() if not p.name.endswith(".json"))
    victim = tmp_path / "outside" / "victim.txt"
    victim.parent.mkdir()
    victim.write_text("original\n")
    os.utime(victim, (1_000_000_000, 1_000_000_000))
    return Planted(_env(tmp_path, mode), tmp_path / "data", victim, stored, KEY if mode == "encrypted" else None)


def _one_line_failure(result: subprocess.CompletedProcess[str], needle: str) -> None:
    assert expected_failure(result.returncode), result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("brs: error:")]
    assert len(lines) == 1, result.stderr
    assert needle in lines[0], lines[0]


def _neighbours(data: Path) -> list[str]:
    """What sits next to the data directory, but brs's lock file (made by the first command)."""
    return sorted(name for name in os.listdir(data.parent) if name != f".{data.name}.brs-lock")


CASES: dict[str, tuple[Callable[[Path], bytes], str]] = {
    "cve-2025-4517": (lambda victim: hostile.cve_2025_4517(victim, PREFIX), "lies beneath the symlink"),
    "symlink-chain": (lambda _victim: hostile.symlink_chain(PREFIX), "A' is a symlink that resolves outside"),
    "hard-link-to-missing": (lambda _victim: hostile.hard_link_to_missing(PREFIX), "not a regular file extracted earlier"),
    "hard-link-to-symlink": (lambda _victim: hostile.hard_link_to_symlink(PREFIX), "not a regular file extracted earlier"),
    "device": (lambda _victim: hostile.device_node(PREFIX), "device file or FIFO"),
    "absolute-symlink": (lambda victim: hostile.absolute_symlink(victim, PREFIX), "absolute symlink"),
    "dotdot": (lambda _victim: hostile.dotdot_member("../outside/victim.txt", PREFIX), "outside the target directory"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_hostile_archive_is_refused_and_nothing_changes(planted: Planted, case: str) -> None:
    build, needle = CASES[case]
    planted.plant(build(planted.victim))
    before = tree_snapshot(planted.data)
    neighbours = _neighbours(planted.data)
    for command in ("restore", "verify"):
        _one_line_failure(run_brs(command, "latest", env=planted.env), needle)
    assert planted.victim.read_text() == "original\n"
    assert planted.victim.stat().st_mtime == 1_000_000_000
    assert os.listdir(planted.victim.parent) == ["victim.txt"]
    assert tree_snapshot(planted.data) == before
    assert _neighbours(planted.data) == neighbours


def test_setuid_and_sticky_bits_are_cleared_unless_kept(planted: Planted) -> None:
    planted.plant(hostile.setuid_root_file(PREFIX))
    run_brs("verify", "latest", env=planted.env, check=True)
    run_brs("restore", "latest", "--discard-previous", env=planted.env, check=True)
    assert stat.S_IMODE((planted.data / "suid").stat().st_mode) == 0o755
    assert stat.S_IMODE((planted.data / "shared").stat().st_mode) == 0o777
    assert (planted.data / "plain").read_bytes() == b"plain\n"
    run_brs("restore", "latest", "--discard-previous", "--keep-special-bits", env=planted.env, check=True)
    assert stat.S_IMODE((planted.data / "suid").stat().st_mode) == 0o6755
    assert stat.S_IMODE((planted.data / "shared").stat().st_mode) == 0o1777
    assert (planted.data / "suid").stat().st_uid == 0
