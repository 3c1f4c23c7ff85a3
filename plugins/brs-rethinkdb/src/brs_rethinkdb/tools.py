"""Command lines for the dump and restore tools of the ``rethinkdb`` Python driver, and running them.

The tools run as ``python -m rethinkdb dump|restore`` in a child process: they use
multiprocessing and print to stdout, neither of which belongs in brs's worker threads. Their
``--help`` crashes (an optparse subclass in driver 2.4.10 asserts on the help option's missing
destination), so nothing here ever asks a tool for help or parses its usage text; the driver is
found by importing it, and failures are read from the ``error:`` line the tools print.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from brs import processes
from brs.errors import DatabaseError, PluginError

from brs_rethinkdb.connection import driver_password

__all__ = ["dump_command", "error_summary", "restore_command", "run_tool", "write_password_file"]


def _tool(verb: str) -> list[str]:
    if importlib.util.find_spec("rethinkdb._dump") is None:
        raise PluginError("the rethinkdb Python driver (with its dump tools) is not installed: pip install rethinkdb")
    return [sys.executable, "-m", "rethinkdb", verb]


def dump_command(address: str, output: Path, temp_dir: Path, password_file: Path | None) -> list[str]:
    """``rethinkdb dump`` of every database into the gzipped tarball ``output``.

    ``output`` must be a file: the tool's ``-f -`` (stdout) mode is broken on Python 3 (it
    writes bytes to a text stream), and it exports to ``temp_dir`` first anyway.
    """
    command = [*_tool("dump"), "--connect", address, "--file", str(output), "--temp-dir", str(temp_dir), "--quiet"]
    if password_file is not None:
        command += ["--password-file", str(password_file)]  # the file's path only, never the password
    return command


def restore_command(archive: Path, address: str, temp_dir: Path, password_file: Path | None) -> list[str]:
    """``rethinkdb restore`` of a dump tarball into the (empty) server at ``address``."""
    command = [*_tool("restore"), str(archive), "--connect", address, "--temp-dir", str(temp_dir), "--quiet"]
    if password_file is not None:
        command += ["--password-file", str(password_file)]
    return command


def write_password_file(password: str, directory: Path) -> Path:
    """A 0600 password file the driver tools read correctly, in a new directory ``directory``.

    The tools read ``--password-file`` as text and hand it to the driver's latin-1 handshake,
    so the file holds :func:`~brs_rethinkdb.connection.driver_password`'s form of the password,
    UTF-8 encoded (the tools run with ``PYTHONUTF8=1``, see :func:`run_tool`).
    """
    directory.mkdir(mode=0o700)
    path = directory / "password"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(driver_password(password) + "\n")
    return path


def run_tool(command: list[str], what: str, timeout: float) -> str:
    """Run a driver tool; any non-zero exit is a one-line :class:`DatabaseError`.

    :returns: the tool's combined output (for logging).
    """
    # The driver's deprecation noise is not an error; UTF-8 mode makes the tools read the password
    # file as UTF-8 whatever the locale says.
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONUTF8": "1"}
    try:
        result = processes.run(
            command, capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise DatabaseError(f"{what} did not finish within {timeout:.0f}s") from error
    except OSError as error:
        raise DatabaseError(f"cannot run {what}: {error.strerror or error}") from error
    output = (result.stdout or "") + (result.stderr or "")
    if result.returncode != 0:
        raise DatabaseError(f"{what} failed (exit {result.returncode}): {error_summary(output)}")
    return output


def error_summary(output: str) -> str:
    """The telling line of a tool's output, without usage text or traceback frames.

    Parser errors (including "Unable to connect to server") end in ``PROG: error: MESSAGE``;
    failures during a dump or restore are printed as ``Error: ...`` lines.
    """
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in reversed(lines):
        if ": error: " in line:
            return line.split(": error: ", 1)[1]
    for line in reversed(lines):
        if line.startswith("Error: "):
            return line[len("Error: ") :]
    for line in reversed(lines):
        if not line.startswith(("File ", "Traceback", "^", "Usage:")):
            return line
    return "no output"
