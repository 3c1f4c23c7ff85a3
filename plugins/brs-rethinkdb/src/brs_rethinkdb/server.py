"""A private RethinkDB server on free loopback ports, used to load a dump into a data directory."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Self

from brs.errors import ConfigError, DatabaseError
from brs.kit.server import TemporaryServer

from brs_rethinkdb.connection import AuthRejected, connect

__all__ = ["TemporaryRethinkDB"]


class TemporaryRethinkDB(TemporaryServer):
    """``rethinkdb`` on ``directory``, listening only on loopback, with no web console.

    The admin password is handed over in a 0600 config file below ``workdir``
    (``initial-password=``, the config-file form of ``--initial-password``), so it never shows
    on a command line.
    """

    what = "temporary RethinkDB server"
    port_count = 2  # the driver port clients use, and the cluster port
    stop_timeout = 60.0
    log_name = "rethinkdb.log"

    def __init__(
        self, binary: Path, directory: Path, workdir: Path, password: str | None, log: logging.Logger | None = None
    ) -> None:
        super().__init__(workdir, log=log)
        self.binary = binary
        self.directory = directory
        self.password = password
        self.config_file = workdir / "rethinkdb.conf"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def write_config(self) -> None:
        """The config file with the initial admin password (owner-only)."""
        lines = []
        if self.password:
            if "\n" in self.password or "\r" in self.password:
                raise ConfigError("the RethinkDB admin password must be a single line")
            lines.append(f"initial-password={self.password}")
        fd = os.open(self.config_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:  # the server reads the password's UTF-8 bytes
            handle.write("".join(line + "\n" for line in lines))

    def start(self, timeout: float) -> Self:
        """Start the server and wait until it accepts the admin password."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.write_config()
        return super().start(timeout)

    def command(self) -> list[str]:
        driver_port, cluster_port = self.ports
        return [
            str(self.binary),
            "--directory", str(self.directory),
            "--bind", "127.0.0.1",
            "--driver-port", str(driver_port),
            "--cluster-port", str(cluster_port),
            "--no-http-admin",
            "--no-update-check",
            "--config-file", str(self.config_file),
        ]  # fmt: skip

    def ready(self) -> bool:
        try:
            connect("127.0.0.1", self.port, self.password).close()
            return True
        except AuthRejected:
            raise
        except DatabaseError:
            return False
