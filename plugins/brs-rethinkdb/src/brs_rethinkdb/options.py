"""The plugin's options."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from brs.errors import ConfigError
from brs.options import PluginOptions, option

__all__ = ["DEFAULT_PORT", "DEFAULT_URL", "RethinkOptions", "parse_address"]

DEFAULT_PORT = 28015
DEFAULT_URL = f"localhost:{DEFAULT_PORT}"


@dataclass(frozen=True)
class RethinkOptions(PluginOptions):
    """Options of the rethinkdb plugin."""

    prefix: ClassVar[str] = "rethinkdb"

    url: str = option(DEFAULT_URL, "HOST:PORT of the server's driver port.")
    # A file rather than a secret() pair: the flag's name and meaning come from backup-restore-sidecar.
    passwordfile: Path | None = option(
        None,
        "File with the password of the admin user (required for restores: it becomes the restored server's).",
        metavar="FILE",
    )
    binary: str = option("rethinkdb", "RethinkDB server binary for the temporary restore server (a path or a name on PATH).")
    temp_dir: Path | None = option(
        None,
        "Scratch space for the dump tools' intermediate files (default: the system temporary directory).",
        metavar="DIRECTORY",
    )
    timeout: float = option(3600.0, "Seconds a dump, a restore, or the start of the temporary server may take.", minimum=1)

    def __post_init__(self) -> None:
        parse_address(self.url)  # a malformed --rethinkdb-url fails when the options are read

    @property
    def host(self) -> str:
        return parse_address(self.url)[0]

    @property
    def port(self) -> int:
        return parse_address(self.url)[1]

    @property
    def address(self) -> str:
        """``host:port`` as the driver tools take it (an IPv6 host in brackets)."""
        host, port = parse_address(self.url)
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def read_password(self) -> str | None:
        """The admin password as the driver tools read a password file (UTF-8, trailing newlines dropped)."""
        if self.passwordfile is None:
            return None
        try:
            return self.passwordfile.read_text(encoding="utf-8").rstrip("\n")
        except OSError as error:
            raise ConfigError(f"cannot read --rethinkdb-passwordfile {self.passwordfile}: {error.strerror or error}") from error
        except UnicodeDecodeError:
            raise ConfigError(f"--rethinkdb-passwordfile {self.passwordfile} is not UTF-8 text") from None


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
