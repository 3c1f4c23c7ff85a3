"""Command lines and files the plugin hands to the driver tools and the server (no server needed)."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from brs.errors import ConfigError
from brs_rethinkdb.connection import driver_password
from brs_rethinkdb.server import TemporaryRethinkDB
from brs_rethinkdb.options import RethinkOptions, parse_address
from brs_rethinkdb.tools import dump_command, error_summary, restore_command, write_password_file


def test_dump_command_uses_the_driver_tool_and_only_the_password_file_path(tmp_path: Path) -> None:
    command = dump_command("db.example:28016", tmp_path / "out.tar.gz", tmp_path, tmp_path / "pw")
    assert command[:4] == [sys.executable, "-m", "rethinkdb", "dump"]
    assert command[4:] == [
        "--connect", "db.example:28016", "--file", str(tmp_path / "out.tar.gz"), "--temp-dir", str(tmp_path), "--quiet",
        "--password-file", str(tmp_path / "pw"),
    ]  # fmt: skip
    assert "--password-file" not in dump_command("h:1", tmp_path / "o", tmp_path, None)


def test_restore_command(tmp_path: Path) -> None:
    command = restore_command(tmp_path / "d.tar.gz", "127.0.0.1:4242", tmp_path / "t", tmp_path / "pw")
    assert command == [
        sys.executable, "-m", "rethinkdb", "restore", str(tmp_path / "d.tar.gz"), "--connect", "127.0.0.1:4242",
        "--temp-dir", str(tmp_path / "t"), "--quiet", "--password-file", str(tmp_path / "pw"),
    ]  # fmt: skip


def test_temporary_server_command_is_loopback_only_and_keeps_the_password_off_it(tmp_path: Path) -> None:
    server = TemporaryRethinkDB(Path("/usr/bin/rethinkdb"), tmp_path / "data", tmp_path / "work", "s3cret pw")
    server.ports = (40001, 40002)
    (tmp_path / "work").mkdir()
    server.write_config()
    command = server.command()
    assert command == [
        "/usr/bin/rethinkdb", "--directory", str(tmp_path / "data"), "--bind", "127.0.0.1", "--driver-port", "40001",
        "--cluster-port", "40002", "--no-http-admin", "--no-update-check",
        "--config-file", str(tmp_path / "work" / "rethinkdb.conf"),
    ]  # fmt: skip
    assert not any("s3cret" in part for part in command)
    assert server.config_file.read_text() == "initial-password=s3cret pw\n"
    assert stat.S_IMODE(server.config_file.stat().st_mode) == 0o600


def test_a_multi_line_password_is_refused(tmp_path: Path) -> None:
    server = TemporaryRethinkDB(Path("rethinkdb"), tmp_path / "data", tmp_path, "one\ntwo")
    with pytest.raises(ConfigError, match="single line"):
        server.write_config()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("localhost:28015", ("localhost", 28015)),
        ("rethinkdb.db.svc", ("rethinkdb.db.svc", 28015)),
        ("10.0.0.7:29000", ("10.0.0.7", 29000)),
        ("[::1]:28016", ("::1", 28016)),
        ("rethinkdb://host:1234", ("host", 1234)),
    ],
)
def test_parse_address(url: str, expected: tuple[str, int]) -> None:
    assert parse_address(url) == expected


@pytest.mark.parametrize("url", ["", "host:port", "host:0", "host:70000"])
def test_bad_addresses_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        parse_address(url)


def test_settings_read_the_password_like_the_driver_tools(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("with spaces \n\n")
    settings = RethinkOptions.from_values({"rethinkdb_passwordfile": str(tmp_path / "pw"), "rethinkdb_url": "[::1]:1"})
    assert settings.read_password() == "with spaces "
    assert settings.address == "[::1]:1"
    with pytest.raises(ConfigError, match="cannot read --rethinkdb-passwordfile"):
        RethinkOptions.from_values({"rethinkdb_passwordfile": str(tmp_path / "missing")}).read_password()


def test_a_malformed_url_fails_when_the_options_are_read() -> None:
    with pytest.raises(ConfigError, match="--rethinkdb-url 'host:port' is not HOST:PORT"):
        RethinkOptions.from_values({"rethinkdb_url": "host:port"})


def test_error_summary_picks_the_error_line() -> None:
    usage = "Usage: rethinkdb dump [-c HOST:PORT] ...\n\npython -m rethinkdb dump: error: Unable to connect to server: refused\n"
    assert error_summary(usage) == "Unable to connect to server: refused"
    assert error_summary("NOTE: ...\nError: export failed, boom\n") == "export failed, boom"
    assert error_summary("") == "no output"


@pytest.mark.parametrize("password", ["plain ascii", "pässword", "pass ✓ 密码"])
def test_passwords_reach_the_server_as_utf8_through_the_latin1_handshake(password: str) -> None:
    # The driver sends password.encode("latin-1"); the server hashes the UTF-8 bytes.
    assert driver_password(password).encode("latin-1") == password.encode("utf-8")
    if password.isascii():
        assert driver_password(password) == password


def test_the_tools_password_file_is_private_and_in_the_drivers_form(tmp_path: Path) -> None:
    path = write_password_file("pass ✓", tmp_path / "secret")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.read_text(encoding="utf-8") == driver_password("pass ✓") + "\n"
