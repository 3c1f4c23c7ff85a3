"""Acceptance: wrong key, damaged or hostile backups and bad flags give one clear line, a
non-zero exit, and leave the data directory exactly as it was."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from brs.crypto import Keyring, parse_key
from brs.testing import hostile, make_tree, run_brs, tree_snapshot
from brs.testing.helpers import expected_failure
from brs.testing.helpers import brs_executable


@pytest.fixture
def backed_up(tmp_path: Path, brs_env: dict[str, str]) -> tuple[dict[str, str], Path, Path]:
    """An encrypted backup of a small tree; returns env, data dir and the stored object."""
    env = {**brs_env, "BRS_ENCRYPTION_KEY_FILE": str(tmp_path / "key"), "BRS_COMPRESSION_METHOD": "tarzst"}
    data = make_tree(Path(env["BRS_DB_DATA_DIRECTORY"]), big_file_size=2 << 20)
    version = run_brs("backup", env=env, check=True).stdout.strip()
    stored = next(p for p in (tmp_path / "store").iterdir() if p.name.startswith(version) and p.name.endswith(".aes"))
    return env, data, stored


def _assert_one_line_failure(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert expected_failure(result.returncode), result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("brs: error:")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def _restore_fails_and_nothing_changes(env: dict[str, str], data: Path, *needles: str) -> None:
    before = tree_snapshot(data)
    siblings = sorted(p.name for p in data.parent.iterdir())
    for command in (["restore", "latest"], ["verify", "latest"]):
        _assert_one_line_failure(run_brs(*command, env=env), *needles)
    assert tree_snapshot(data) == before
    assert sorted(p.name for p in data.parent.iterdir()) == siblings


def test_wrong_key_names_the_key_ids_and_never_the_key(
    tmp_path: Path, backed_up: tuple[dict[str, str], Path, Path], brs_key: str
) -> None:
    env, data, _ = backed_up
    other = "ffffffffffffffffffffffffffffffff"
    (tmp_path / "other").write_text(other)
    env = {**env, "BRS_ENCRYPTION_KEY_FILE": str(tmp_path / "other")}
    _restore_fails_and_nothing_changes(env, data, "encrypted with key", Keyring(parse_key(brs_key, "t")).ids[0])
    result = run_brs("restore", env=env)
    assert other not in result.stderr and brs_key not in result.stderr


def test_a_missing_key_is_named(backed_up: tuple[dict[str, str], Path, Path]) -> None:
    env, data, _ = backed_up
    env = {k: v for k, v in env.items() if k != "BRS_ENCRYPTION_KEY_FILE"}
    _restore_fails_and_nothing_changes(env, data, "configured keys: none")


def test_a_truncated_object_is_detected(backed_up: tuple[dict[str, str], Path, Path]) -> None:
    env, data, stored = backed_up
    content = stored.read_bytes()
    stored.write_bytes(content[: len(content) - 4096])
    _restore_fails_and_nothing_changes(env, data, "truncated")


def test_a_flipped_byte_is_detected(backed_up: tuple[dict[str, str], Path, Path]) -> None:
    env, data, stored = backed_up
    content = bytearray(stored.read_bytes())
    content[len(content) // 2] ^= 0x20
    stored.write_bytes(bytes(content))
    _restore_fails_and_nothing_changes(env, data, "corrupt")


def test_an_archive_with_dotdot_members_is_refused(
    tmp_path: Path, backed_up: tuple[dict[str, str], Path, Path], brs_key: str
) -> None:
    """A backup that authenticates perfectly but carries a hostile archive (a stolen key, a
    malicious writer) still cannot write outside the data directory."""
    env, data, stored = backed_up
    hostile.plant_backup(stored, hostile.dotdot_member("../../escaped.txt", "data/"), brs_key)
    _restore_fails_and_nothing_changes(env, data, "outside")
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path.parent / "escaped.txt").exists()


def test_bad_flags_and_settings(tmp_path: Path, brs_env: dict[str, str]) -> None:
    usage = run_brs("backup", "--object-max-keep", "zero", env=brs_env)
    assert usage.returncode == 2 and "Traceback" not in usage.stderr
    unknown = run_brs("backup", "--no-such-flag", env=brs_env)
    assert unknown.returncode == 2 and "no-such-flag" in unknown.stderr
    _assert_one_line_failure(
        run_brs("backup", env={**brs_env, "BRS_DB": "oracle"}), "no database plugin named 'oracle'", "localfs"
    )
    _assert_one_line_failure(
        run_brs("backup", env={**brs_env, "BRS_COMPRESSION_METHOD": "rar"}), "no compression plugin named 'rar'"
    )
    _assert_one_line_failure(run_brs("backup", env={**brs_env, "BRS_ENCRYPTION_KEY": "short"}), "32 ASCII characters")
    _assert_one_line_failure(run_brs("backup", env=brs_env), "does not exist")
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("x")
    (tmp_path / "data").mkdir()
    _assert_one_line_failure(
        run_brs("backup", env={**brs_env, "BRS_LOCAL_PROVIDER_BACKUP_PATH": str(blocked / "sub")}), "not usable"
    )


def test_config_file_env_and_flag_precedence(tmp_path: Path, brs_env: dict[str, str]) -> None:
    data = Path(brs_env["BRS_DB_DATA_DIRECTORY"])
    data.mkdir()
    (data / "f").write_text("x")
    config = tmp_path / "config.yaml"
    config.write_text(
        f"compression-method: tarlz4\nobject-prefix: from-config\nlocal-provider-backup-path: {tmp_path / 'store'}\n"
    )
    env = {k: v for k, v in brs_env.items() if k != "BRS_LOCAL_PROVIDER_BACKUP_PATH"}
    run_brs("backup", "--config", str(config), env=env, check=True)
    run_brs("backup", "--config", str(config), env={**env, "BRS_COMPRESSION_METHOD": "tar"}, check=True)
    run_brs(
        "backup",
        "--config",
        str(config),
        "--compression-method",
        "targz",
        env={**env, "BRS_COMPRESSION_METHOD": "tar"},
        check=True,
    )
    listed = json.loads(run_brs("backups", "list", "--json", "--config", str(config), env=env, check=True).stdout)
    assert [b["compression"] for b in listed] == ["targz", "tar", "tarlz4"]
    assert (tmp_path / "store" / "from-config").is_dir()


def _upload_started(store: Path) -> bool:
    """Whether an upload file with content exists (one may be renamed while it is looked at)."""
    for partial in store.glob(".brs-upload-*") if store.exists() else []:
        try:
            if partial.stat().st_size > 0:
                return True
        except FileNotFoundError:
            continue
    return False


def test_killing_a_backup_mid_upload_leaves_no_listed_backup(tmp_path: Path, brs_env: dict[str, str]) -> None:
    data = Path(brs_env["BRS_DB_DATA_DIRECTORY"])
    data.mkdir()
    with open(data / "large.bin", "wb") as out:
        for _ in range(600):
            out.write(os.urandom(1 << 20))
    store = tmp_path / "store"
    env = {**os.environ, **brs_env, "BRS_COMPRESSION_METHOD": "tar"}
    process = subprocess.Popen([brs_executable(), "backup"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if _upload_started(store) or process.poll() is not None:
            break
        time.sleep(0.01)
    assert process.poll() is None, "the backup finished before it could be interrupted"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert json.loads(run_brs("backups", "list", "--json", env=brs_env, check=True).stdout) == []
    (data / "large.bin").unlink()
    (data / "small.txt").write_text("after the crash")
    version = run_brs("backup", env=brs_env, check=True).stdout.strip()
    listed = json.loads(run_brs("backups", "list", "--json", env=brs_env, check=True).stdout)
    assert [b["version"] for b in listed] == [version]
    run_brs("verify", version, env=brs_env, check=True)


def test_plugins_list_shows_builtins_with_distributions() -> None:
    rows = json.loads(run_brs("plugins", "list", "--check", "--json", check=True).stdout)
    found = {(r["role"], r["name"]): (r["distribution"], r["status"]) for r in rows}
    for role, name, dist in [
        ("database", "localfs", "brs-localfs"),
        ("storage", "local", "brs"),
        ("compression", "tar", "brs"),
        ("compression", "targz", "brs"),
        ("compression", "tarlz4", "brs"),
        ("compression", "tarzst", "brs"),
    ]:
        assert found[(role, name)] == (dist, "ok")
    assert all(r["version"] for r in rows)
    table = run_brs("plugins", "list", "--check", check=True).stdout
    assert "brs-localfs" in table and "DISTRIBUTION" in table


def test_secret_flags_are_hidden_from_the_process_title() -> None:
    code = (
        "from brs.cli.app import _scrub_process_title; "
        "_scrub_process_title(['backup', '--encryption-key', 'SECRET-ONE', '--postgres-password=SECRET-TWO']); "
        "print(open('/proc/self/cmdline', 'rb').read())"
    )
    import sys

    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "SECRET" not in output and "***" in output


@pytest.mark.parametrize("method", ["tar", "targz", "tarlz4", "tarzst"])
def test_a_flipped_byte_in_an_unencrypted_backup_names_the_backup(tmp_path: Path, brs_env: dict[str, str], method: str) -> None:
    """Without encryption the codec may meet the damage before the digest is checked: the one
    line still names the damaged backup, and nothing changes."""
    env = {**brs_env, "BRS_COMPRESSION_METHOD": method, "BRS_ALLOW_UNENCRYPTED": "true"}
    data = make_tree(Path(env["BRS_DB_DATA_DIRECTORY"]), big_file_size=2 << 20)
    version = run_brs("backup", env=env, check=True).stdout.strip()
    stored = next(p for p in (tmp_path / "store").iterdir() if p.name.startswith(version) and not p.name.endswith(".json"))
    content = bytearray(stored.read_bytes())
    content[len(content) // 2] ^= 0x20
    stored.write_bytes(bytes(content))
    _restore_fails_and_nothing_changes(env, data, version, "corrupt")
