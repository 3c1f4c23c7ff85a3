"""The plugin's options and the settings resolved from them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from brs.errors import ConfigError

__all__ = ["DEFAULT_PORT", "DEFAULT_URL", "RethinkSettings", "parse_address", "plugin_options"]

DEFAULT_PORT = 28015
DEFAULT_URL = f"localhost:{DEFAULT_PORT}"


def plugin_options() -> list[click.Option]:
    """Click options of the ``rethinkdb`` database plugin."""
    return [
        click.Option(["--rethinkdb-url"], default=DEFAULT_URL, show_default=True, help="HOST:PORT of the server's driver port."),
        click.Option(
            ["--rethinkdb-passwordfile"],
            default=None,
            type=click.Path(dir_okay=False, path_type=Path),
            help="File with the password of the admin user (required for restores: it becomes the restored server's).",
        ),
        click.Option(
            ["--rethinkdb-binary"],
            default="rethinkdb",
            show_default=True,
            help="RethinkDB server binary for the temporary restore server (a path or a name on PATH).",
        ),
        click.Option(
            ["--rethinkdb-temp-dir"],
            default=None,
            type=click.Path(file_okay=False, path_type=Path),
            help="Scratch space for the dump tools' intermediate files (default: the system temporary directory).",
        ),
        click.Option(
            ["--rethinkdb-timeout"],
            default=3600.0,
            show_default=True,
            type=click.FloatRange(min=1),
            help="Seconds a dump, a restore, or the start of the temporary server may take.",
        ),
    ]


def parse_address(url: str) -> tuple[str, int]:
    """``host:port`` (or ``host``, or ``[v6]:port``) as the driver tools understand it."""
    text = url.strip()
    for scheme in ("rethinkdb://", "tcp://"):
        if text.startswith(scheme):
            text = text[len(scheme) :]
    if not text:
        raise ConfigError("--rethinkdb-url is empty")
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.lstrip(":")
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, ""
    try:
        port = int(port_text) if port_text else DEFAULT_PORT
    except ValueError:
        raise ConfigError(f"--rethinkdb-url {url!r} is not HOST:PORT") from None
    if not host or not 0 < port < 65536:
        raise ConfigError(f"--rethinkdb-url {url!r} is not HOST:PORT")
    return host, port


@dataclass(frozen=True)
class RethinkSettings:
    """Resolved option values of one run."""

    host: str
    port: int
    password_file: Path | None
    binary: str
    temp_dir: Path | None
    timeout: float

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> RethinkSettings:
        def get(name: str, default: Any) -> Any:
            value = options.get(name)
            return default if value is None else value

        host, port = parse_address(str(get("rethinkdb_url", DEFAULT_URL)))
        password_file = get("rethinkdb_passwordfile", None)
        temp_dir = get("rethinkdb_temp_dir", None)
        return cls(
            host=host,
            port=port,
            password_file=Path(password_file) if password_file is not None else None,
            binary=str(get("rethinkdb_binary", "rethinkdb")),
            temp_dir=Path(temp_dir) if temp_dir is not None else None,
            timeout=float(get("rethinkdb_timeout", 3600.0)),
        )

    def read_password(self) -> str | None:
        """The admin password as the driver tools read a password file (UTF-8, trailing newlines dropped)."""
        if self.password_file is None:
            return None
        try:
            return self.password_file.read_text(encoding="utf-8").rstrip("\n")
        except OSError as error:
            raise ConfigError(f"cannot read --rethinkdb-passwordfile {self.password_file}: {error.strerror or error}") from error
        except UnicodeDecodeError:
            raise ConfigError(f"--rethinkdb-passwordfile {self.password_file} is not UTF-8 text") from None
