"""Child processes: ``--pre-exec-cmds`` and the database run by ``brs wait``.

Commands are argv lists, never handed to a shell: what the user wrote is what runs, with no
word splitting or globbing of values that happen to contain spaces or ``*``. They are started
through :mod:`brs.processes` (no ``BRS_*`` variables in their environment) and logged with
secrets redacted.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
import subprocess
from collections.abc import Sequence

from brs import processes
from brs.errors import BrsError, ConfigError

__all__ = ["Child", "exit_code", "run_argv", "run_commands"]

log = logging.getLogger("brs.sidecar.exec")


def run_commands(commands: Sequence[str], what: str = "pre-exec command") -> None:
    """Run each command to completion, in order; a non-zero exit raises.

    A command string is split like a POSIX shell would split words (quotes respected) after
    ``$VAR`` expansion, but no shell runs it.
    """
    for command in commands:
        argv = shlex.split(os.path.expandvars(command))
        if argv:
            run_argv(argv, what)


def run_argv(argv: Sequence[str], what: str) -> None:
    """Run one command (already split into words) to completion; a non-zero exit raises."""
    shown = processes.redact(argv)
    log.info("running %s", what, extra={"command": shown})
    try:
        result = processes.run(argv, check=False)
    except OSError as error:
        raise ConfigError(f"cannot run {what} {shown[0]!r}: {error.strerror or error}") from error
    if result.returncode != 0:
        raise BrsError(f"{what} {' '.join(shown)} exited with {exit_code(result.returncode)}")


def exit_code(returncode: int) -> int:
    """Popen's return code as a shell reports it (killed by signal N: 128 + N)."""
    return 128 - returncode if returncode < 0 else returncode


class Child:
    """One supervised child process (the database)."""

    def __init__(self, argv: Sequence[str]) -> None:
        if not argv:
            raise ConfigError("no command given")
        self.argv = list(argv)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> int:
        try:
            # If brs wait itself is killed, the database does not run on unsupervised.
            self.process = processes.popen(self.argv, die_with_parent=signal.SIGTERM)
        except OSError as error:
            raise ConfigError(f"cannot start {self.argv[0]!r}: {error.strerror or error}") from error
        log.info("started %s", self.argv[0], extra={"pid": self.process.pid, "command": processes.redact(self.argv)})
        return self.process.pid

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def send(self, signum: int) -> None:
        if self.running():
            assert self.process is not None
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signum)

    def wait(self, timeout: float | None = None) -> int | None:
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float, signum: int = signal.SIGTERM, signalled: bool = False) -> int:
        """Ask the child to exit (``signum``, unless ``signalled`` already), wait ``timeout`` seconds, then SIGKILL it."""
        if self.process is None:
            return 0
        if self.running() and not signalled:
            log.info("stopping %s (pid %d) with %s", self.argv[0], self.process.pid, signal.Signals(signum).name)
            self.send(signum)
        code = self.wait(timeout)
        if code is None:
            log.warning("%s did not exit within %.0fs; killing it", self.argv[0], timeout)
            self.send(signal.SIGKILL)
            code = self.process.wait()
        log.info("%s exited with %d", self.argv[0], exit_code(code))
        return code
