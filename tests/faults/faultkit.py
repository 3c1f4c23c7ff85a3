"""Helpers of the fault suite: data a test can recognise, and the real CLI on it."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

from brs.testing.helpers import run_brs

POD_SUPPORT = Path(__file__).resolve().parent.parent / "pod_support"


def remount_read_only(path: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)


def write_journal_data(data_dir: Path, lines: list[str], extra: dict[str, bytes] | None = None) -> None:
    """A data directory journaldb (tests/pod_support) calls healthy: data.txt and its checksum."""
    data_dir.mkdir(parents=True, exist_ok=True)
    content = "".join(line + "\n" for line in lines)
    (data_dir / "data.txt").write_text(content)
    (data_dir / "data.txt.sha256").write_text(hashlib.sha256(content.encode()).hexdigest())
    for name, payload in (extra or {}).items():
        (data_dir / name).write_bytes(payload)


def cli_env(data_dir: Path, store: Path, db: str = "journaldb", **extra: str) -> dict[str, str]:
    """Environment for the real CLI on ``data_dir`` with local storage at ``store``."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(POD_SUPPORT), os.environ.get("PYTHONPATH")])),
        "BRS_DB": db,
        "BRS_DB_DATA_DIRECTORY": str(data_dir),
        "BRS_LOCAL_PROVIDER_BACKUP_PATH": str(store),
        "BRS_LOG_FORMAT": "json",
        **extra,
    }


def backup_of(env: dict[str, str], *args: str) -> str:
    """Take a backup with the CLI; returns its version."""
    return run_brs("backup", *args, env=env, check=True).stdout.strip()


def listed(env: dict[str, str]) -> list[str]:
    """Versions the storage lists, newest first."""
    return [row["version"] for row in json.loads(run_brs("backups", "list", "--json", env=env, check=True).stdout)]


def visible(data_dir: Path) -> dict[str, bytes]:
    """The data files of ``data_dir`` (brs's own ``.brs-`` entries left out)."""
    return {p.name: p.read_bytes() for p in sorted(data_dir.iterdir()) if not p.name.startswith(".brs-") and p.is_file()}


def downloaded_files(env: dict[str, str], version: str) -> dict[str, bytes]:
    """Files of a backup as ``brs download -o -`` streams its tar archive to standard output."""
    import io
    import tarfile

    from brs.testing.helpers import brs_executable

    result = subprocess.run([brs_executable(), "download", version, "-o", "-"], env=env, capture_output=True, check=True)
    files = {}
    with tarfile.open(fileobj=io.BytesIO(result.stdout)) as tar:
        for member in tar.getmembers():
            handle = tar.extractfile(member) if member.isfile() else None
            if handle is not None:
                files[member.name] = handle.read()
    return files
