"""Server-free tests of brs-redis: its options, backups it must refuse, and the missing-server rule of its test helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from brs import assembly
from brs.errors import ConfigError, DatabaseError
from brs.testing import archive_of
from brs_redis import Redis
from brs_redis.layout import METADATA, RDB
from brs_redis.options import RedisOptions
from brs_redis.testing import server_binary

#: Every flag as brs 0.1 spelled it (users' manifests and the old tool's variables depend on them).
FLAGS = [
    "--redis-addr", "--redis-username", "--redis-password", "--redis-password-file", "--redis-tls", "--redis-ca-cert",
    "--redis-cert", "--redis-key", "--redis-rdb-path", "--redis-dbfilename", "--redis-appendonly",
    "--redis-appenddirname", "--redis-appendfilename", "--redis-bgsave-timeout", "--redis-check-rdb",
]  # fmt: skip


@pytest.mark.parametrize("engine", ["redis", "valkey", "keydb"])
def test_flags_variables_and_defaults_are_those_of_earlier_releases(engine: str) -> None:
    options = RedisOptions.click_options()
    assert [option.opts[0] for option in options] == FLAGS
    assert [option.envvar for option in options] == ["BRS_" + flag[2:].upper().replace("-", "_") for flag in FLAGS]
    driver = assembly.database(engine)
    assert isinstance(driver, Redis) and driver.context.name == engine
    defaults = driver.settings
    assert (defaults.endpoint, defaults.uses_tls) == (("127.0.0.1", 6379), False)
    assert (defaults.dbfilename, defaults.appendonly, defaults.bgsave_timeout) == ("dump.rdb", "yes", 3600.0)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"redis_addr": "no-port"}, "--redis-addr 'no-port' is not host:port"),
        ({"redis_addr": "host:port"}, "--redis-addr 'host:port' is not host:port"),
        ({"redis_key": "client.key"}, "--redis-cert and --redis-key must be set together"),
        ({"redis_appendonly": "sometimes"}, "--redis-appendonly must be one of yes, no, auto, not 'sometimes'"),
        ({"redis_bgsave_timeout": "0.5"}, "--redis-bgsave-timeout must be at least 1, not '0.5'"),
    ],
)
def test_wrong_options_are_one_line_config_errors(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        assembly.database("redis", values)
    assert str(caught.value) == message


def test_an_ipv6_address_and_tls_implied_by_a_certificate() -> None:
    settings = RedisOptions(addr="[::1]:6380", ca_cert=Path("ca.crt"))
    assert settings.endpoint == ("::1", 6380)
    assert settings.uses_tls and not settings.tls


def test_the_password_comes_from_its_file_and_stays_out_of_repr(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret-pass\n")
    settings = assembly.database("redis", {"redis_password_file": str(secret)}).settings
    assert isinstance(settings, RedisOptions)
    assert settings.password == "s3cret-pass"
    assert "s3cret-pass" not in repr(settings)
    with pytest.raises(ConfigError, match="--redis-password and --redis-password-file are both set; use one"):
        assembly.database("redis", {"redis_password": "x", "redis_password_file": str(secret)})


def test_a_missing_server_binary_fails_instead_of_skipping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRS_VALKEY_SERVER", "/nonexistent/valkey-server")
    with pytest.raises(pytest.fail.Exception, match="valkey server not found at /nonexistent/valkey-server"):
        server_binary("valkey")


# --- backups this plugin cannot read: refused before anything is written -------------------------
@pytest.mark.parametrize(
    ("members", "message"),
    [
        (
            {METADATA.name: b'{"format": 2}', RDB: b"REDIS0011"},
            "the backup's redis/brs-redis.json has format 2, newer than the 1 this brs-redis reads",
        ),
        ({RDB: b"REDIS0011"}, "the backup has no redis/brs-redis.json before its data; it was not made by brs-redis"),
    ],
    ids=["newer-metadata-format", "data-without-metadata"],
)
def test_a_backup_this_plugin_cannot_read_is_refused(members: dict[str, bytes], message: str, tmp_path: Path) -> None:
    with pytest.raises(DatabaseError) as caught:
        assembly.database("redis").restore(archive_of(members), tmp_path)
    assert str(caught.value).startswith(message)
    assert list(tmp_path.iterdir()) == []
