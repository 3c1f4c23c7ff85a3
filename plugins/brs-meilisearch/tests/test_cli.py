"""The real ``brs`` CLI: backup, wipe, restore, start the server again, compare; and its errors."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from brs.testing import run_brs
from brs.testing.helpers import expected_failure
from brs.testing.legacy import make_old_backup
from brs_meilisearch.testing import MeiliServer, assert_matches, load_sample, snapshot

pytestmark = pytest.mark.server("meilisearch")


def _sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("brs: error:")]


def _common(server: MeiliServer, backups: Path, key_file: Path, binary: Path) -> list[str]:
    return [
        "--db", "meilisearch",
        "--db-data-directory", str(server.db_path),
        "--backup-provider", "local",
        "--local-provider-backup-path", str(backups),
        "--meilisearch-url", server.url,
        "--meilisearch-api-key-file", str(key_file),
        "--meilisearch-dump-dir", str(server.dump_dir),
        "--meilisearch-binary", str(binary),
    ]  # fmt: skip


def test_backup_wipe_restore_round_trip(start_server: Callable[..., MeiliServer], meili_binary: Path, tmp_path: Path) -> None:
    server = start_server(tmp_path / "volume" / "data", tmp_path / "volume" / "dumps")
    load_sample(server.client())
    expected = snapshot(server.client())
    key_file = tmp_path / "master-key"
    key_file.write_text(server.master_key + "\n")
    args = _common(server, tmp_path / "backups", key_file, meili_binary)

    backup = run_brs("backup", *args)
    assert backup.returncode == 0, backup.stderr
    # The server-side dump is gone; the binary that wrote the data is kept next to it.
    assert list(server.dump_dir.iterdir()) == []
    kept = tmp_path / "volume" / "previous-binary" / "meilisearch"
    assert kept.is_file() and _sha256(kept) == _sha256(meili_binary)

    verify = run_brs("verify", "--backup-provider", "local", "--local-provider-backup-path", str(tmp_path / "backups"))
    assert verify.returncode == 0, verify.stderr

    server.stop()
    shutil.rmtree(server.db_path)
    restore = run_brs("restore", *args)
    assert restore.returncode == 0, restore.stderr

    restored = start_server(server.db_path, tmp_path / "volume" / "dumps")
    assert_matches(snapshot(restored.client()), expected)
    # The restored server accepts the restored API keys (derived from the same master key).
    search_key = next(key["key"] for key in expected["keys"] if key["name"] == "search-movies")
    client = MeiliServer(meili_binary, restored.db_path, restored.dump_dir, master_key=search_key)
    client.port = restored.port
    assert client.client().index("movies").search("Movie 7")["hits"]


def test_unreachable_server_is_one_line_and_exit_1(meili_binary: Path, tmp_path: Path) -> None:
    server = MeiliServer(meili_binary, tmp_path / "data", tmp_path / "dumps")
    server.port = 1  # nothing listens there
    key_file = tmp_path / "key"
    key_file.write_text("whatever")
    result = run_brs("backup", *_common(server, tmp_path / "backups", key_file, meili_binary))
    assert expected_failure(result.returncode), result.stderr
    errors = _error_lines(result.stderr)
    assert len(errors) == 1 and "cannot reach Meilisearch at http://127.0.0.1:1" in errors[0], result.stderr
    assert "Traceback" not in result.stderr


def test_wrong_api_key_is_one_line_and_exit_1(
    start_server: Callable[..., MeiliServer], meili_binary: Path, tmp_path: Path
) -> None:
    server = start_server(tmp_path / "data", tmp_path / "dumps")
    key_file = tmp_path / "key"
    key_file.write_text("not-the-master-key")
    result = run_brs("backup", *_common(server, tmp_path / "backups", key_file, meili_binary))
    assert expected_failure(result.returncode), result.stderr
    errors = _error_lines(result.stderr)
    assert len(errors) == 1 and "invalid_api_key" in errors[0], result.stderr
    assert "Traceback" not in result.stderr


def test_missing_dump_dir_option_is_a_config_error(
    start_server: Callable[..., MeiliServer], meili_binary: Path, tmp_path: Path
) -> None:
    server = start_server(tmp_path / "data", tmp_path / "dumps")
    key_file = tmp_path / "key"
    key_file.write_text(server.master_key)
    args = [a for a in _common(server, tmp_path / "backups", key_file, meili_binary)]
    at = args.index("--meilisearch-dump-dir")
    del args[at : at + 2]
    result = run_brs("backup", *args)
    assert expected_failure(result.returncode)
    assert "--meilisearch-dump-dir" in _error_lines(result.stderr)[0]


def test_dump_dir_not_shared_with_the_server_is_explained(
    start_server: Callable[..., MeiliServer], meili_binary: Path, tmp_path: Path
) -> None:
    server = start_server(tmp_path / "data", tmp_path / "dumps")
    key_file = tmp_path / "key"
    key_file.write_text(server.master_key)
    args = _common(server, tmp_path / "backups", key_file, meili_binary)
    args[args.index("--meilisearch-dump-dir") + 1] = str(tmp_path / "elsewhere")
    result = run_brs("backup", *args)
    assert expected_failure(result.returncode)
    errors = _error_lines(result.stderr)
    assert len(errors) == 1 and "does not exist" in errors[0] and "--meilisearch-dump-dir" in errors[0], result.stderr
    listed = run_brs(
        "backups", "list", "--json", "--backup-provider", "local", "--local-provider-backup-path", str(tmp_path / "backups")
    )
    assert listed.stdout.strip() in ("", "[]")


def test_an_old_backup_of_backup_restore_sidecar_restores(
    start_server: Callable[..., MeiliServer], meili_binary: Path, tmp_path: Path
) -> None:
    """The old tool stored the server's dump as files/latest.dump; built here with the API, tar and gzip."""
    server = start_server(tmp_path / "volume" / "data", tmp_path / "volume" / "dumps")
    load_sample(server.client())
    expected = snapshot(server.client())
    task = server.client().create_dump()
    assert server.client().wait_for_task(task.task_uid, timeout_in_ms=60_000).status == "succeeded"
    [dump] = server.dump_dir.glob("*.dump")
    (tmp_path / "upload" / "files").mkdir(parents=True)
    shutil.move(dump, tmp_path / "upload" / "files" / "latest.dump")
    make_old_backup(tmp_path / "upload", tmp_path / "backups" / "0.tar.gz", "targz")
    key_file = tmp_path / "master-key"
    key_file.write_text(server.master_key + "\n")
    server.stop()
    shutil.rmtree(server.db_path)

    restore = run_brs("restore", *_common(server, tmp_path / "backups", key_file, meili_binary))
    assert restore.returncode == 0, restore.stderr
    restored = start_server(server.db_path, tmp_path / "volume" / "dumps")
    assert_matches(snapshot(restored.client()), expected)
