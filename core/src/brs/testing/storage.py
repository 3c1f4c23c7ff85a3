"""Test bodies that every storage provider runs the same way, and the pieces they need.

A provider's test module keeps its own servers and environments and calls these with the
``brs`` environment of one of its servers (the variables ``brs`` reads, with localfs as the
database)::

    @pytest.mark.parametrize("method", list(COMPRESSION_SUFFIXES))
    def test_encrypted_round_trip(tmp_path, my_server, method):
        encrypted_round_trip(my_server.env(tmp_path, unique_bucket()), method, tmp_path / "key")
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from brs.interfaces import Storage
from brs.testing.helpers import brs_executable, cleared_special_bits, listed_backups, make_tree, run_brs, tree_snapshot

if TYPE_CHECKING:
    from brs.engine import Engine

__all__ = [
    "COMPRESSION_SUFFIXES",
    "GreedyReader",
    "backup_small",
    "backup_wipe_restore",
    "encrypted_round_trip",
    "memory_bounded_round_trip",
    "run_measured",
    "sidecars_keep_to_their_prefixes",
    "storage_engine",
]

_MiB = 1 << 20

#: Compression method -> the suffix of its backup objects (before ``.aes`` when encrypted).
COMPRESSION_SUFFIXES = {"tar": ".tar", "targz": ".tar.gz", "tarlz4": ".tar.lz4", "tarzst": ".tar.zst"}


def backup_small(env: dict[str, str], **extra: str) -> subprocess.CompletedProcess[str]:
    """``brs backup`` of a one-file data directory, logging warnings only; not checked.

    For error tests: ``extra`` adds environment variables, and the result goes to
    :func:`~brs.testing.assert_one_line_error`.
    """
    env = {**env, "BRS_LOG_LEVEL": "warning", **extra}
    data = Path(env["BRS_DB_DATA_DIRECTORY"])
    data.mkdir(exist_ok=True)
    (data / "file").write_text("x\n")
    return run_brs("backup", env=env, timeout=120)


def backup_wipe_restore(env: dict[str, str], big_file_size: int) -> str:
    """Back up a :func:`make_tree` tree through the real CLI, wipe it, restore it, compare.

    The restore strips setuid, setgid and sticky bits (the default), so the comparison expects
    them cleared. The backup must be the only one listed; returns its version.
    """
    data = make_tree(Path(env["BRS_DB_DATA_DIRECTORY"]), big_file_size=big_file_size)
    expected = cleared_special_bits(tree_snapshot(data))
    version = run_brs("backup", env=env, check=True).stdout.strip()
    assert [b["version"] for b in listed_backups(env)] == [version]
    shutil.rmtree(data)
    assert run_brs("restore", "latest", env=env, check=True).stdout.strip() == version
    assert tree_snapshot(data) == expected
    return version


def encrypted_round_trip(env: dict[str, str], method: str, key_file: Path) -> None:
    """:func:`backup_wipe_restore` compressed with ``method`` and encrypted with ``key_file``.

    The object's name must carry the method's suffix and ``.aes``.
    """
    env = {**env, "BRS_COMPRESSION_METHOD": method, "BRS_ENCRYPTION_KEY_FILE": str(key_file)}
    version = backup_wipe_restore(env, big_file_size=1 << 20)
    assert listed_backups(env)[0]["name"] == version + COMPRESSION_SUFFIXES[method] + ".aes"


def sidecars_keep_to_their_prefixes(
    env_for: Callable[[Path, str], dict[str, str]],
    engine_for: Callable[[str, Path, int], Engine],
    root: Path,
    count: int = 25,
    keep: int = 20,
) -> None:
    """Two sidecars share a bucket under prefixes ``team/db`` and ``team/db-2``; neither sees
    nor prunes the other's backups (``db`` is a prefix of ``db-2`` as a string: the folder
    semantics must keep them apart).

    :param env_for: ``(directory, prefix)`` -> a ``brs`` environment on the shared bucket.
    :param engine_for: ``(prefix, data_dir, max_keep)`` -> an in-process engine on it, to
        take ``count`` backups of ours quickly (see :func:`storage_engine`).
    """
    ours = {**env_for(root / "a", "team/db"), "BRS_OBJECT_MAX_KEEP": str(keep)}
    theirs = {**env_for(root / "b", "team/db-2"), "BRS_OBJECT_MAX_KEEP": "1"}
    for env in (ours, theirs):
        data = Path(env["BRS_DB_DATA_DIRECTORY"])
        data.mkdir(parents=True, exist_ok=True)
        (data / "file").write_text("tiny\n")
    their_first = run_brs("backup", env=theirs, check=True).stdout.strip()

    engine = engine_for("team/db", Path(ours["BRS_DB_DATA_DIRECTORY"]), keep)
    made = [engine.backup().backup_id for _ in range(count)]
    ours_listed = [b["version"] for b in listed_backups(ours)]
    assert ours_listed == list(reversed(made[-keep:]))
    assert len(engine.storage.list()) == 2 * keep  # objects + manifests

    # Their retention (keep 1) runs after their next backup and must not touch ours.
    their_second = run_brs("backup", env=theirs, check=True).stdout.strip()
    assert [b["version"] for b in listed_backups(theirs)] == [their_second]
    assert their_first not in ours_listed
    assert [b["version"] for b in listed_backups(ours)] == ours_listed


def storage_engine(storage: Storage[Any], data_dir: Path, max_keep: int) -> Engine:
    """An in-process engine (localfs + ``storage`` + tar), wired as the CLI wires it.

    The storage plugin's name and object prefix come from ``storage.context``.
    """
    from brs.assembly import assemble
    from brs.engine import Settings

    name, prefix = storage.context.name, storage.context.object_prefix
    settings = Settings(
        db="localfs",
        data_dir=data_dir,
        backup_provider=name,
        object_prefix=prefix,
        object_max_keep=max_keep,
        compression_method="tar",
    )
    engine = assemble(settings, storage_driver=storage, load_hooks=False)
    engine.ensure_storage()
    return engine


class GreedyReader(io.RawIOBase):
    """Returns ``piece`` bytes per read whatever is asked, as brs's pipeline may for large reads."""

    def __init__(self, data: bytes, piece: int) -> None:
        super().__init__()
        self._data = io.BytesIO(data)
        self._piece = piece

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        return self._data.read(self._piece)


def run_measured(*args: str, env: dict[str, str], timeout: float = 600) -> tuple[subprocess.CompletedProcess[str], int]:
    """Run ``brs`` and sample its peak RSS (VmHWM, KiB) from /proc while it runs.

    VmHWM is a high-water mark of the process's own memory, so sampling it until just before
    the process exits loses nothing but the last few milliseconds.
    """
    process = subprocess.Popen(
        [brs_executable(), *args], env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        status = Path(f"/proc/{process.pid}/status")
        while not done.is_set():
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
            except (OSError, ValueError):
                pass
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    finally:
        done.set()
        sampler.join()
        if process.poll() is None:
            process.kill()
            process.wait()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr), peak


def memory_bounded_round_trip(env: dict[str, str], limit_kib: int) -> None:
    """300 MiB of incompressible data up and down; each ``brs`` stays under ``limit_kib`` peak RSS."""
    env = {**env, "BRS_COMPRESSION_METHOD": "tar"}
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
    assert backup_peak < limit_kib, f"backup peak RSS {backup_peak / 1024:.0f} MiB"
    assert restore_peak < limit_kib, f"restore peak RSS {restore_peak / 1024:.0f} MiB"
