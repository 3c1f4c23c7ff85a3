"""brs-redis against real Redis 7 and Valkey 8 servers, mostly through the real ``brs`` CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from brs.archive import ArchiveReader
from brs import assembly
from brs.interfaces import Database, DataDirStatus
from brs.testing.legacy import make_old_backup
from brs.testing import BULK, DatabaseContract, LocalStoreCLI, assert_ok, free_port, make_certificates, one_line_error
from brs_redis import BackupSkipped
from brs_redis.testing import StartServer, load_bulk, load_sample, snapshot

pytestmark = pytest.mark.server("redis")


class CLI(LocalStoreCLI):
    """``brs`` with a local backup store; every call returns the finished process."""

    def __call__(
        self, command: str, engine: str, *args: str, data_dir: Path | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.run(command, *args, db=engine, data_dir=data_dir, env=env)


@pytest.fixture
def cli(tmp_path: Path) -> CLI:
    return CLI(tmp_path)


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    line = one_line_error(result)
    assert "Traceback" not in result.stderr
    return line


# --- round trips through the CLI ------------------------------------------------------------
@pytest.mark.parametrize("engine", ["redis", "valkey"])
def test_every_type_and_ttl_survive_backup_wipe_and_restore(
    engine: str, cli: CLI, start_server: StartServer, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    server = start_server(engine, data)
    load_sample(server.client())
    server.client().set("large", os.urandom(6 << 20))  # the RDB spans several archive stream parts
    expected = snapshot(server)
    version = assert_ok(cli("backup", engine, "--redis-addr", server.addr, data_dir=data))
    assert (data / "dump.rdb").exists(), "the live RDB must stay where the server wrote it"
    server.stop()
    shutil.rmtree(data)

    restored = assert_ok(cli("restore", engine, "latest", data_dir=data))
    assert restored == version
    assert sorted(p.name for p in data.iterdir()) == ["appendonlydir", "dump.rdb"]
    again = start_server(engine, data)
    assert snapshot(again) == expected
    with again.client() as client:
        assert 0 < client.ttl("ttl:short") <= 3600
        assert 3600 < client.ttl("ttl:hash") <= 7200
    [listed] = cli.listed()
    assert listed["db"] == engine


def test_a_redis_backup_restores_into_valkey(cli: CLI, start_server: StartServer, tmp_path: Path) -> None:
    source = start_server("redis", tmp_path / "redis")
    load_sample(source.client())
    expected = snapshot(source)
    assert_ok(cli("backup", "redis", "--redis-addr", source.addr, data_dir=tmp_path / "redis"))
    assert_ok(cli("restore", "valkey", data_dir=tmp_path / "valkey"))
    target = start_server("valkey", tmp_path / "valkey")
    assert snapshot(target) == expected
    with target.client() as client:
        assert "valkey_version" in client.info("server")


@pytest.mark.parametrize("engine", ["redis", "valkey"])
def test_an_aof_server_restores_its_data_not_an_old_aof(engine: str, cli: CLI, start_server: StartServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_server(engine, data, appendonly=True)
    load_sample(server.client())
    expected = snapshot(server)
    assert_ok(cli("backup", engine, "--redis-addr", server.addr, data_dir=data))
    # Writes after the backup land in the live AOF; a restore must not replay them.
    with server.client() as client:
        client.set("written-after-backup", "must not come back")
        client.delete("hash")
    server.stop()
    assert (data / "appendonlydir").is_dir()

    assert_ok(cli("restore", engine, data_dir=data))
    manifest = (data / "appendonlydir" / "appendonly.aof.manifest").read_text()
    assert manifest == "file appendonly.aof.1.base.rdb seq 1 type b\n"
    assert sorted(p.name for p in (data / "appendonlydir").iterdir()) == ["appendonly.aof.1.base.rdb", "appendonly.aof.manifest"]
    with_aof = start_server(engine, data, appendonly=True)
    assert snapshot(with_aof) == expected
    with with_aof.client() as client:
        client.set("after-restore", "kept")  # the server appends to the restored AOF normally
    with_aof.stop()
    again = start_server(engine, data, appendonly=True)
    assert again.client().get("after-restore") == "kept"
    again.stop()

    # The same backup restored for a server that runs without AOF: only the RDB.
    plain = tmp_path / "plain"
    assert_ok(cli("restore", engine, "--redis-appendonly", "no", data_dir=plain))
    assert [p.name for p in plain.iterdir()] == ["dump.rdb"]
    assert snapshot(start_server(engine, plain)) == expected


def test_a_restore_loads_whatever_the_appendonly_setting_of_the_server(
    cli: CLI, start_server: StartServer, tmp_path: Path
) -> None:
    """Backed up without AOF, restored for a server that now runs with AOF (and the reverse)."""
    data = tmp_path / "data"
    server = start_server("redis", data)
    load_sample(server.client())
    expected = snapshot(server)
    assert_ok(cli("backup", "redis", "--redis-addr", server.addr, data_dir=data))
    server.stop()

    assert_ok(cli("restore", "redis", data_dir=tmp_path / "aof"))
    assert snapshot(start_server("redis", tmp_path / "aof", appendonly=True)) == expected

    assert_ok(cli("restore", "redis", data_dir=tmp_path / "switch"))
    without = start_server("redis", tmp_path / "switch")
    assert snapshot(without) == expected
    with without.client() as client:
        client.config_set("appendonly", "yes")  # turned on at run time: the server rewrites its AOF
        for _ in range(100):
            if (
                client.info("persistence")["aof_rewrite_in_progress"] == 0
                and client.info("persistence")["aof_rewrite_scheduled"] == 0
            ):
                break
            time.sleep(0.05)
        client.set("after-switch", "kept")
    without.stop()
    again = start_server("redis", tmp_path / "switch", appendonly=True)
    assert again.client().get("after-switch") == "kept"
    assert {k: v for k, v in snapshot(again).items() if k != "0/after-switch"} == expected

    # auto follows the backed-up server, which had no AOF: the data directory holds only the RDB.
    assert_ok(cli("restore", "redis", "--redis-appendonly", "auto", data_dir=tmp_path / "auto"))
    assert [p.name for p in (tmp_path / "auto").iterdir()] == ["dump.rdb"]


def test_custom_dbfilename_is_read_from_config_and_honoured_on_restore(
    cli: CLI, start_server: StartServer, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    server = start_server("redis", data, "--dbfilename", "custom.rdb")
    server.client().set("k", "v")
    assert_ok(cli("backup", "redis", "--redis-addr", server.addr, data_dir=data))
    server.stop()
    assert_ok(cli("restore", "redis", "--redis-dbfilename", "custom.rdb", data_dir=tmp_path / "restored"))
    assert sorted(p.name for p in (tmp_path / "restored").iterdir()) == ["appendonlydir", "custom.rdb"]
    assert start_server("redis", tmp_path / "restored", "--dbfilename", "custom.rdb").client().get("k") == "v"


def test_mutual_tls(cli: CLI, start_server: StartServer, tmp_path: Path) -> None:
    certs = make_certificates(tmp_path / "certs")
    data = tmp_path / "data"
    server = start_server("redis", data, tls=certs)
    load_sample(server.client())
    expected = snapshot(server)
    tls = ["--redis-tls", "--redis-ca-cert", str(certs / "ca.crt")]
    client_cert = ["--redis-cert", str(certs / "client.crt"), "--redis-key", str(certs / "client.key")]
    line = _one_line_error(cli("backup", "redis", "--redis-addr", server.addr, *tls, data_dir=data))
    assert line.startswith(f"brs: error: redis at {server.addr}")
    line = _one_line_error(cli("backup", "redis", "--redis-addr", server.addr, data_dir=data))
    assert line.startswith(f"brs: error: redis at {server.addr}")
    assert cli.listed() == []
    assert_ok(cli("backup", "redis", "--redis-addr", server.addr, *tls, *client_cert, data_dir=data))
    server.stop()
    assert_ok(cli("restore", "redis", data_dir=tmp_path / "restored"))
    assert snapshot(start_server("redis", tmp_path / "restored")) == expected


# --- only a primary is backed up ----------------------------------------------------------------
def test_a_replica_is_skipped_and_nothing_is_uploaded(cli: CLI, start_server: StartServer, tmp_path: Path) -> None:
    primary = start_server("redis", tmp_path / "primary")
    primary.client().set("k", "v")
    replica = start_server("redis", tmp_path / "replica", "--replicaof", "127.0.0.1", str(primary.port))
    assert replica.client().info("replication")["role"] == "slave"
    line = _one_line_error(cli("backup", "redis", "--redis-addr", replica.addr, data_dir=tmp_path / "replica"))
    assert "skipped: this redis is a replica" in line
    assert cli.listed() == []
    assert (sorted(p.name for p in cli.store.iterdir()) if cli.store.exists() else []) == []


def test_the_driver_raises_backup_skipped_on_a_replica(start_server: StartServer, tmp_path: Path) -> None:
    primary = start_server("valkey", tmp_path / "primary")
    replica = start_server("valkey", tmp_path / "replica", "--replicaof", "127.0.0.1", str(primary.port))
    driver = assembly.database("valkey", {"redis_addr": replica.addr})
    with pytest.raises(BackupSkipped, match="skipped: this valkey is a replica"):
        driver.dump(None)  # type: ignore[arg-type]  # raises before writing


# --- failures: one line, nothing listed, nothing deleted -----------------------------------------
def test_unreachable_server(cli: CLI, tmp_path: Path) -> None:
    port = free_port()
    line = _one_line_error(cli("backup", "redis", "--redis-addr", f"127.0.0.1:{port}", data_dir=tmp_path / "data"))
    assert line.startswith("brs: error: redis at 127.0.0.1:") and "unreachable" in line
    assert cli.listed() == []


def test_wrong_password_and_password_file(cli: CLI, start_server: StartServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_server("redis", data, password="s3cret-pass")
    server.client().set("k", "v")
    server.client().save()
    before = (data / "dump.rdb").read_bytes()
    wrong = _one_line_error(cli("backup", "redis", "--redis-addr", server.addr, "--redis-password", "not-it", data_dir=data))
    assert "rejected the credentials" in wrong and "not-it" not in wrong
    missing = _one_line_error(cli("backup", "redis", "--redis-addr", server.addr, data_dir=data))
    assert "requires a password" in missing or "rejected" in missing
    assert cli.listed() == []
    assert (data / "dump.rdb").read_bytes() == before

    secret = tmp_path / "password"
    secret.write_text("s3cret-pass\n")
    assert_ok(cli("backup", "redis", "--redis-addr", server.addr, "--redis-password-file", str(secret), data_dir=data))
    assert_ok(cli("backup", "redis", "--redis-addr", server.addr, data_dir=data, env={"BRS_REDIS_PASSWORD": "s3cret-pass"}))
    assert len(cli.listed()) == 2


def test_acl_user_without_permission(cli: CLI, start_server: StartServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_server("redis", data)
    with server.client() as client:
        client.set("k", "v")
        client.execute_command("ACL", "SETUSER", "reader", "on", ">reader-pass", "~*", "+@read", "+info", "+ping")
        client.execute_command("ACL", "SETUSER", "saver", "on", ">saver-pass", "~*", "+@all", "-config")
        # The minimal rights the README documents.
        client.execute_command("ACL", "SETUSER", "brs", "on", ">brs-pass", "+info", "+time", "+bgsave", "+config|get", "+ping")
    env = {"BRS_REDIS_PASSWORD": "reader-pass"}
    line = _one_line_error(
        cli("backup", "redis", "--redis-addr", server.addr, "--redis-username", "reader", data_dir=data, env=env)
    )
    assert "CONFIG GET is not available to user 'reader'" in line
    rdb = ["--redis-rdb-path", str(data / "dump.rdb")]
    line = _one_line_error(
        cli("backup", "redis", "--redis-addr", server.addr, "--redis-username", "reader", *rdb, data_dir=data, env=env)
    )
    assert "user 'reader' lacks a permission the backup needs" in line
    # Without CONFIG, the RDB location must be given.
    env = {"BRS_REDIS_PASSWORD": "saver-pass"}
    line = _one_line_error(
        cli("backup", "redis", "--redis-addr", server.addr, "--redis-username", "saver", data_dir=data, env=env)
    )
    assert "--redis-rdb-path" in line
    assert cli.listed() == []
    assert_ok(
        cli(
            "backup",
            "redis",
            "--redis-addr",
            server.addr,
            "--redis-username",
            "saver",
            "--redis-rdb-path",
            str(data / "dump.rdb"),
            data_dir=data,
            env=env,
        )
    )
    assert len(cli.listed()) == 1
    minimal = {"BRS_REDIS_PASSWORD": "brs-pass"}
    assert_ok(cli("backup", "redis", "--redis-addr", server.addr, "--redis-username", "brs", data_dir=data, env=minimal))
    assert len(cli.listed()) == 2


def test_renamed_config_needs_the_rdb_path(cli: CLI, start_server: StartServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_server("redis", data, "--rename-command", "CONFIG", "")
    server.client().set("k", "v")
    line = _one_line_error(cli("backup", "redis", "--redis-addr", server.addr, data_dir=data))
    assert "CONFIG GET is not available" in line and "--redis-rdb-path" in line
    assert_ok(cli("backup", "redis", "--redis-addr", server.addr, "--redis-rdb-path", str(data / "dump.rdb"), data_dir=data))


def test_a_failed_bgsave_fails_the_backup(cli: CLI, start_server: StartServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_server("redis", data, "--enable-protected-configs", "yes")
    server.client().set("k", "v")
    gone = tmp_path / "gone"
    gone.mkdir()
    server.client().config_set("dir", str(gone))
    gone.rmdir()  # the child cannot create its temp file: BGSAVE fails after it was accepted
    # (CONFIG GET dir answers nothing for a deleted directory, so the path is given.)
    rdb = ["--redis-rdb-path", str(gone / "dump.rdb")]
    line = _one_line_error(cli("backup", "redis", "--redis-addr", server.addr, *rdb, data_dir=data))
    assert "BGSAVE failed" in line
    assert cli.listed() == []


def test_the_backup_waits_for_a_save_already_running(cli: CLI, start_server: StartServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_server("redis", data)
    with server.client() as client:
        client.mset({f"k{i}": str(i) for i in range(8)})
        client.config_set("rdb-key-save-delay", "250000")  # 0.25 s per key: a save of about 2 s
        client.bgsave()
        assert client.info("persistence")["rdb_bgsave_in_progress"] == 1
    assert_ok(cli("backup", "redis", "--redis-addr", server.addr, data_dir=data))
    with server.client() as client:
        client.config_set("rdb-key-save-delay", "0")
        assert client.info("persistence")["rdb_saves"] >= 2
    server.stop()
    assert_ok(cli("restore", "redis", data_dir=tmp_path / "restored"))
    assert start_server("redis", tmp_path / "restored").client().get("k7") == "7"


# --- data directory checks ------------------------------------------------------------------------
def test_check_reports_empty_healthy_and_corrupt(start_server: StartServer, tmp_path: Path) -> None:
    driver = assembly.database("redis")
    assert driver.check(tmp_path / "missing").status is DataDirStatus.EMPTY
    data = tmp_path / "data"
    server = start_server("redis", data)
    load_sample(server.client())
    server.client().save()
    server.stop()
    assert driver.check(data).status is DataDirStatus.HEALTHY
    rdb = data / "dump.rdb"
    rdb.write_bytes(rdb.read_bytes()[:200])
    state = driver.check(data)
    assert state.status is DataDirStatus.CORRUPT
    # What redis-check-rdb says depends on where the cut falls (an early EOF, or a stream's listpack
    # cut short when the sample's key order puts one first): one line naming the file either way.
    assert "dump.rdb" in state.reason and "\n" not in state.reason
    rdb.unlink()
    (data / "stray").write_text("x")
    assert driver.check(data).status is DataDirStatus.CORRUPT


def test_check_of_a_valkey_rdb_uses_a_checker_that_understands_it(start_server: StartServer, tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = start_server("valkey", data)
    server.client().set("k", "v")
    server.client().save()
    server.stop()
    # Even with --db redis, redis-check-rdb 7.0 cannot read format 11: valkey-check-rdb is tried next.
    assert assembly.database("redis").check(data).status is DataDirStatus.HEALTHY
    assert assembly.database("valkey").check(data).status is DataDirStatus.HEALTHY


def test_probe_and_version(start_server: StartServer, tmp_path: Path) -> None:
    server = start_server("valkey", tmp_path / "data")
    driver = assembly.database("valkey", {"redis_addr": server.addr})
    assert driver.probe() is True
    assert str(driver.version()).startswith("8.")
    server.stop()
    assert driver.probe() is False


# --- the shared contract ----------------------------------------------------------------------------
class TestRedisContract(DatabaseContract):
    engine = "redis"
    appendonly = False

    @pytest.fixture
    def database(self, start_server: StartServer, tmp_path: Path) -> Database[Any]:
        server = start_server(self.engine, tmp_path / "contract-source", appendonly=self.appendonly)
        load_sample(server.client())
        self.expected = snapshot(server)
        return assembly.database(self.engine, {"redis_addr": server.addr})

    @pytest.fixture
    def assert_restored(self, start_server: StartServer, tmp_path: Path) -> Callable[[Path], None]:
        def check(target: Path) -> None:
            if self.appendonly:
                assert (target / "appendonlydir" / "appendonly.aof.manifest").exists()
            copy = tmp_path / "started-from-restore"
            shutil.copytree(target, copy)
            assert snapshot(start_server(self.engine, copy, appendonly=self.appendonly)) == self.expected

        return check

    @pytest.fixture
    def unreachable_database(self) -> Database[Any]:
        return assembly.database(self.engine, {"redis_addr": f"127.0.0.1:{free_port()}"})

    @pytest.fixture
    def bulky_database(self, start_server: StartServer, tmp_path: Path) -> Database[Any]:
        server = start_server(self.engine, tmp_path / "bulky")
        load_bulk(server.client(), BULK)
        return assembly.database(self.engine, {"redis_addr": server.addr})


class TestValkeyContract(TestRedisContract):
    engine = "valkey"
    appendonly = True


def test_archive_layout(start_server: StartServer, tmp_path: Path) -> None:
    """The archive holds the metadata, then the RDB stream (readable with plain tar)."""
    from brs.archive import ArchiveWriter

    server = start_server("redis", tmp_path / "data")
    server.client().set("k", "v")
    path = tmp_path / "dump.tar"
    with open(path, "wb") as sink:
        writer = ArchiveWriter(sink)
        assembly.database("redis", {"redis_addr": server.addr}).dump(writer)
        writer.close()
    with open(path, "rb") as source:
        entries = []
        for entry in ArchiveReader(source):
            entries.append(entry.name)
            if entry.name.endswith(".json"):
                with entry.open() as handle:
                    meta = json.loads(handle.read())
    assert entries == ["redis/brs-redis.json", "redis/dump.rdb"]
    assert meta["engine"] == "redis" and meta["version"].startswith("7.") and meta["dbfilename"] == "dump.rdb"
    assert meta["appendonly"] is False


# --- backups of backup-restore-sidecar --------------------------------------------------------
@pytest.mark.parametrize("engine", ["redis", "valkey"])
def test_an_old_backup_of_backup_restore_sidecar_restores(
    engine: str, cli: CLI, start_server: StartServer, tmp_path: Path
) -> None:
    """The old tool stored files/dump.rdb after SAVE; built here with tar and openssl."""
    key = "0123456789abcdef0123456789abcdef"
    server = start_server(engine, tmp_path / "live")
    load_sample(server.client())
    expected = snapshot(server)
    server.client().save()
    upload = tmp_path / "upload"
    (upload / "files").mkdir(parents=True)
    shutil.copyfile(tmp_path / "live" / "dump.rdb", upload / "files" / "dump.rdb")
    make_old_backup(upload, cli.store / "0.tar.gz.aes", "targz", key)

    restored = cli("restore", engine, "--encryption-key", key, data_dir=tmp_path / "restored")
    assert_ok(restored)
    assert sorted(p.name for p in (tmp_path / "restored").iterdir()) == ["appendonlydir", "dump.rdb"]
    assert snapshot(start_server(engine, tmp_path / "restored")) == expected
