"""The CLI as scripts use it: common options anywhere, JSON results, exit statuses, retention."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from brs.errors import BackupNotFound, ConfigError, IntegrityError, KeyMissing
from brs.testing import run_brs, tree_snapshot
from brs.testing.helpers import brs_executable
from brs.testing.helpers import assert_one_line_error, run_backup_cycle


def _backup(env: dict[str, str], text: str, *args: str) -> dict[str, object]:
    data = Path(env["BRS_DB_DATA_DIRECTORY"])
    data.mkdir(exist_ok=True)
    (data / "f").write_text(text)
    return dict(json.loads(run_brs("backup", "--json", *args, env=env, check=True).stdout))


def _versions(env: dict[str, str]) -> list[str]:
    return [row["version"] for row in json.loads(run_brs("backups", "list", "--json", env=env, check=True).stdout)]


def test_the_documented_backup_cycle_script_on_local_storage(tmp_path: Path, brs_env: dict[str, str]) -> None:
    env = {**brs_env, "BRS_ENCRYPTION_KEY_FILE": str(tmp_path / "key")}
    older = _backup(env, "older")["version"]
    data = Path(env["BRS_DB_DATA_DIRECTORY"])
    (data / "f").write_text("current")
    result = run_backup_cycle(env)
    assert result.returncode == 0, result.stderr
    version = result.stdout.strip()
    assert (data / "f").read_text() == "current"
    assert _versions(env) == [version] and version != older  # pruned to the one it made


def test_the_script_stops_with_the_status_of_a_damaged_backup(tmp_path: Path, brs_env: dict[str, str]) -> None:
    env = {**brs_env, "BRS_ENCRYPTION_KEY_FILE": str(tmp_path / "key")}
    version = str(_backup(env, "one")["version"])
    stored = next(p for p in (tmp_path / "store").iterdir() if p.name.startswith(version) and p.name.endswith(".aes"))
    raw = bytearray(stored.read_bytes())
    raw[len(raw) // 2] ^= 1
    stored.write_bytes(bytes(raw))
    for command in (["verify", version], ["restore", version]):
        result = run_brs(*command, "--json", env=env)
        assert result.returncode == IntegrityError.exit_code == 5, result.stderr
        assert json.loads(result.stdout)["type"] == "IntegrityError"


def test_common_options_before_and_after_the_subcommand(tmp_path: Path, brs_env: dict[str, str]) -> None:
    version = _backup(brs_env, "one")["version"]
    bare = {"PATH": os.environ["PATH"]}
    store, data = brs_env["BRS_LOCAL_PROVIDER_BACKUP_PATH"], brs_env["BRS_DB_DATA_DIRECTORY"]
    where = ["--local-provider-backup-path", store]
    # Core and storage-plugin options before the subcommand, after it, or split between both.
    for args in (
        ["--db", "localfs", "--log-level", "debug", *where, "backups", "list", "--json"],
        ["backups", "list", "--db", "localfs", "--log-level", "debug", *where, "--json"],
        ["--json", "--db", "localfs", "backups", "list", *where],
        ["--db", "localfs", "--db-data-directory", data, *where, "backups", "show", str(version), "--json"],
    ):
        result = run_brs(*args, env={**bare, "BRS_LOG_FORMAT": "json"}, check=True)
        document = json.loads(result.stdout)
        assert (document[0] if isinstance(document, list) else document)["version"] == version
    # A flag after the subcommand wins over the same flag before it.
    result = run_brs("--local-provider-backup-path", str(tmp_path / "elsewhere"), "backups", "list", *where, "--json", env=bare)
    assert [row["version"] for row in json.loads(result.stdout)] == [version]
    # An option that the command has no use for is ignored.
    run_brs("--db", "localfs", "--encryption-key-file", str(tmp_path / "key"), "plugins", "list", env=bare, check=True)


def test_a_shared_config_file_is_quiet_everywhere_and_a_typo_is_an_error(tmp_path: Path, brs_env: dict[str, str]) -> None:
    config = tmp_path / "brs.yaml"
    config.write_text(
        f"db: localfs\ndb-data-directory: {brs_env['BRS_DB_DATA_DIRECTORY']}\n"
        f"local-provider-backup-path: {brs_env['BRS_LOCAL_PROVIDER_BACKUP_PATH']}\n"
        "compression-method: tarzst\nbackup-cron-schedule: '@daily'\nkeep-daily: 7\nkeep-within: 2d\n"
        "s3-region: eu-west-1\npostgres-host: db\npost-exec-cmds: [postgres]\nport: 8001\nlock-wait: 5\n"
    )
    env = {"PATH": os.environ["PATH"], "BRS_CONFIG": str(config), "BRS_LOG_FORMAT": "json"}
    Path(brs_env["BRS_DB_DATA_DIRECTORY"]).mkdir()
    (Path(brs_env["BRS_DB_DATA_DIRECTORY"]) / "f").write_text("x")
    version = json.loads(run_brs("backup", "--json", env=env, check=True).stdout)["version"]
    commands = [
        ["backups", "list"],
        ["backups", "show", version],
        ["verify", version],
        ["backups", "prune", "--dry-run"],
        ["download", version, "-o", str(tmp_path / "out.tar")],
        ["restore", version],
        ["plugins", "list"],
    ]
    for command in commands:
        result = run_brs(*command, env=env, check=True)
        assert not [line for line in result.stderr.splitlines() if '"warning"' in line], (command, result.stderr)
    assert json.loads(run_brs("backups", "show", version, "--json", env=env, check=True).stdout)["compression"] == "tarzst"
    config.write_text(config.read_text() + "compresion-method: targz\n")
    for command in (["backup"], ["backups", "list"]):
        assert_one_line_error(
            run_brs(*command, env=env), "config key compresion-method", "did you mean compression-method", exit_code=2
        )


def test_failures_exit_with_their_documented_status(tmp_path: Path, brs_env: dict[str, str]) -> None:
    env = {**brs_env, "BRS_ENCRYPTION_KEY_FILE": str(tmp_path / "key")}
    result = run_brs("backups", "list", env=env, check=True)
    assert result.stdout == "" and result.stderr.strip().endswith(f"no backups in {tmp_path / 'store'}")
    assert_one_line_error(run_brs("verify", env=env), "no backups", exit_code=BackupNotFound.exit_code)
    version = str(_backup(env, "one")["version"])
    assert_one_line_error(run_brs("verify", "20200101T000000000000Z-000000", env=env), exit_code=4)
    assert_one_line_error(run_brs("backups", "show", "nope", env=env), "not found", exit_code=4)
    (tmp_path / "other").write_text("f" * 32)
    other = {**env, "BRS_ENCRYPTION_KEY_FILE": str(tmp_path / "other")}
    for command in (["verify", version], ["restore", version], ["download", version, "-o", str(tmp_path / "x.tar")]):
        assert_one_line_error(run_brs(*command, env=other), "encrypted with key", exit_code=KeyMissing.exit_code)
    without_key = {k: v for k, v in env.items() if k != "BRS_ENCRYPTION_KEY_FILE"}
    assert_one_line_error(run_brs("verify", version, env=without_key), exit_code=KeyMissing.exit_code)
    assert_one_line_error(run_brs("--db", "postgress", "backup", env=env), "did you mean postgres", exit_code=2)
    assert_one_line_error(run_brs("backups", "delete", "latest", env=env), exit_code=ConfigError.exit_code)
    assert not (tmp_path / "x.tar").exists()


def test_prune_applies_the_policy_and_dry_run_deletes_nothing(tmp_path: Path, brs_env: dict[str, str]) -> None:
    versions = [str(_backup(brs_env, str(n), "--no-retention")["version"]) for n in range(4)]
    assert _versions(brs_env) == versions[::-1]
    store = tmp_path / "store"
    before = tree_snapshot(store)
    plan = json.loads(run_brs("backups", "prune", "--keep-last", "2", "--dry-run", "--json", env=brs_env, check=True).stdout)
    assert plan["dry_run"] is True
    assert [row["version"] for row in plan["keep"]] == versions[:1:-1]
    assert plan["keep"][0]["reasons"] == ["newest", "last"]
    assert plan["deleted"] == versions[1::-1]
    assert tree_snapshot(store) == before
    done = json.loads(run_brs("backups", "prune", "--keep-last", "2", "--json", env=brs_env, check=True).stdout)
    assert done["deleted"] == plan["deleted"] and _versions(brs_env) == versions[:1:-1]
    # A backup taken with the default policy after --no-retention ones applies it; the old option
    # names still work and map onto keep-last.
    _backup({**brs_env, "BRS_OBJECT_MAX_KEEP": "1"}, "last")
    assert len(_versions(brs_env)) == 1


def test_backups_show_prints_the_whole_manifest(brs_env: dict[str, str]) -> None:
    row = _backup(brs_env, "one")
    shown = json.loads(run_brs("backups", "show", "latest", "--json", env=brs_env, check=True).stdout)
    assert {k: shown[k] for k in row} == row
    assert shown["manifest"]["backup_id"] == row["version"] and shown["manifest"]["members"] >= 1
    assert shown["method"] == "localfs" and isinstance(shown["duration"], float)
    human = run_brs("backups", "show", str(row["version"]), env=brs_env, check=True).stdout
    lines = {line.split(":", 1)[0]: line.split(":", 1)[1].strip() for line in human.splitlines()}
    assert lines["version"] == row["version"] and lines["digest"] == shown["digest"]
    assert shown["digest"] == f"blake3:{shown['manifest']['blake3']}"


def test_a_successful_verify_is_recorded_and_listed(tmp_path: Path, brs_env: dict[str, str]) -> None:
    version = str(_backup(brs_env, "one")["version"])
    assert json.loads(run_brs("backups", "list", "--json", env=brs_env, check=True).stdout)[0]["verified_at"] is None
    store = tmp_path / "store"
    manifest_before = next(store.glob("*.manifest.json")).read_bytes()
    run_brs("verify", version, env=brs_env, check=True)
    listed = json.loads(run_brs("backups", "list", "--json", env=brs_env, check=True).stdout)[0]
    shown = json.loads(run_brs("backups", "show", version, "--json", env=brs_env, check=True).stdout)
    assert listed["verified_at"] and shown["verified_at"] == listed["verified_at"]
    assert next(store.glob("*.manifest.json")).read_bytes() == manifest_before  # the manifest is never rewritten
    record = next(store.glob("*.verified.json"))
    # A record that is not one brs wrote is skipped, never fatal, never trusted.
    record.write_text('{"backup_id": "20200101T000000Z-000000", "verified_at": "2020-01-01T00:00:00Z"}')
    assert json.loads(run_brs("backups", "list", "--json", env=brs_env, check=True).stdout)[0]["verified_at"] is None
    # Deleting the backup deletes its record too.
    run_brs("backups", "delete", version, "--force", env=brs_env, check=True)
    assert sorted(p.name for p in store.iterdir() if not p.name.startswith(".")) == []


def test_shell_completion_scripts_and_answers() -> None:
    for shell, marker in (("bash", "complete -o nosort -F"), ("zsh", "compdef"), ("fish", "complete --no-files --command brs")):
        assert marker in run_brs("completion", shell, check=True).stdout
    env = {"_BRS_COMPLETE": "bash_complete", "COMP_WORDS": "brs backups p", "COMP_CWORD": "2"}
    answer = run_brs(env=env, check=True).stdout
    assert "plain,prune" in answer.replace("\n", ",")


_PROGRAM = """
import atexit, sys, threading, time
from brs.cli import run
if sys.argv[1] == "thread":
    threading.Thread(target=lambda: (time.sleep(0.3), print("thread finished", flush=True))).start()
atexit.register(lambda: print("exit handler ran", file=sys.stderr))
sys.argv = ["brs", *sys.argv[2:]]
run()
"""


def _program(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _PROGRAM, *args], capture_output=True, text=True, timeout=60, check=False, **kwargs
    )


def test_the_program_exits_fast_yet_runs_exit_handlers_and_keeps_its_status(tmp_path: Path) -> None:
    # brs skips the interpreter's teardown once a command has finished; what a caller sees must
    # not change: the whole output, exit handlers (logging's flush, temporary files) and status.
    done = _program("-", "--version")
    assert done.returncode == 0 and done.stdout.startswith("brs ") and "exit handler ran" in done.stderr
    env = {name: value for name, value in os.environ.items() if not name.startswith("BRS_")}
    failed = _program("-", "backup", "--local-provider-backup-path", str(tmp_path), env=env)  # no --db
    assert failed.returncode == ConfigError.exit_code, failed.stderr
    assert failed.stderr.startswith("brs: error: ") and "exit handler ran" in failed.stderr
    # A thread still running when the command returns is waited for, as Python always did.
    waited = _program("thread", "--version")
    assert waited.returncode == 0 and "thread finished" in waited.stdout


def test_a_reader_that_goes_away_early_gets_no_traceback() -> None:
    # `brs --help | head -0`: the output cannot be written; the status says so, quietly.
    reader, writer = os.pipe()
    os.close(reader)
    with os.fdopen(writer, "w") as closed:
        result = subprocess.run(
            [brs_executable(), "--help"], stdout=closed, stderr=subprocess.PIPE, text=True, timeout=60, check=False
        )
    assert result.returncode != 0 and "Traceback" not in result.stderr and "Exception" not in result.stderr, result.stderr
