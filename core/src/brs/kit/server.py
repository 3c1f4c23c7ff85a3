"""A temporary server: a database process that a restore or an upgrade runs for a moment.

Some engines load a dump only through a running server (Meilisearch imports a dump file,
RethinkDB restores through its driver port, PostgreSQL replays SQL). :class:`TemporaryServer`
is what those plugins share: a child process on loopback, on a free port, that brs waits for,
stops, and never leaves behind::

    class Scratch(TemporaryServer):
        what = "temporary Example server"

        def command(self) -> list[str]:
            return ["example-server", "--port", str(self.port), "--data", str(self.data)]

        def ready(self) -> bool:
            return answers(self.port)

    with Scratch(workdir, log=log) as server:
        server.start(timeout=60)
        ...  # load the dump through server.port

The child starts in its own process group, so that stopping it also stops the helpers it forks.
It is killed when brs exits (``atexit``), when brs gets SIGTERM or SIGHUP with no handler of its
own, and when brs is killed outright (the kernel's parent-death signal). Its output goes to a log
file below ``workdir``; a server that dies or never gets ready is a one-line
:class:`~brs.errors.DatabaseError` that quotes the telling line of that log. Its environment
holds none of brs's ``BRS_*`` variables, and its command line is logged with secrets redacted
(:mod:`brs.processes`).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import re
import signal
import subprocess
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, ClassVar, Self

from brs import processes
from brs.errors import DatabaseError

__all__ = ["TemporaryServer"]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_ERROR_WORD = re.compile(r"\berror\b", re.IGNORECASE)
_ADDRESS_IN_USE = re.compile(r"address already in use|addrinuse", re.IGNORECASE)
#: Characters of a server's log line quoted in an error message.
_QUOTED = 300
#: Bytes read from the end of the log for an error message (a server may log a lot first).
_LOG_TAIL = 64 * 1024


class TemporaryServer(ABC):
    """Base of a temporary server: subclasses say how to run it and how to tell it is ready.

    :param workdir: the server's working directory, created if missing; its log goes there. A
        server whose brs was killed is found by this directory at the next start
        (:func:`brs.processes.stop_processes_under`), so keep it below brs's staging area.
    :param log: where the command line and stop warnings go.
    """

    #: Names the server in messages (``temporary RethinkDB server``); a class or an instance may set it.
    what: str = "temporary server"
    #: How many free loopback ports the server needs (:attr:`ports`); 0 for a socket-only server.
    port_count: ClassVar[int] = 1
    #: Start attempts when another process took a port between choosing and binding it.
    port_attempts: ClassVar[int] = 3
    #: The signal that asks the server to shut down cleanly.
    stop_signal: ClassVar[signal.Signals] = signal.SIGTERM
    #: Seconds a stopping server gets after :attr:`stop_signal` before it is killed.
    stop_timeout: ClassVar[float] = 30.0
    #: File name of the server's output below ``workdir``.
    log_name: ClassVar[str] = "server.log"

    def __init__(self, workdir: Path, *, log: logging.Logger | None = None) -> None:
        self.workdir = workdir
        self.log_path = workdir / self.log_name
        self.ports: tuple[int, ...] = ()
        self._log = log or logging.getLogger("brs.kit.server")
        self._process: subprocess.Popen[bytes] | None = None

    # -- what a subclass provides ------------------------------------------------------------
    @abstractmethod
    def command(self) -> list[str]:
        """The server's command line (it may use :attr:`port` and :attr:`ports`)."""

    @abstractmethod
    def ready(self) -> bool:
        """True once the server answers; called repeatedly until it does or time runs out.

        Raise a :class:`~brs.errors.DatabaseError` for an answer that waiting cannot fix
        (a rejected password); the server is stopped and the error passed on.
        """

    def environment(self) -> Mapping[str, str]:
        """The server's environment before brs's own ``BRS_*`` variables are removed (default: ours).

        Override to drop variables meant for the real server or to pass a secret that must
        not show on the command line.
        """
        return os.environ

    def popen_options(self) -> dict[str, Any]:
        """Extra :class:`subprocess.Popen` arguments (``user=``, ``group=`` for a server that refuses root)."""
        return {}

    # -- state -------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The first of :attr:`ports`: the port clients connect to."""
        if not self.ports:
            raise RuntimeError(f"{self.what} has no port before start()")
        return self.ports[0]

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self._process.pid if self._process is not None else None

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def start(self, timeout: float) -> Self:
        """Start the server and wait up to ``timeout`` seconds until :meth:`ready`.

        :raises DatabaseError: the program cannot be started, exits, or is not ready in time
            (one line, with the telling line of its log); the process is gone by then.
        """
        if self._process is not None:
            raise RuntimeError(f"{self.what} is already started")
        self.workdir.mkdir(parents=True, exist_ok=True)
        for attempt in range(1, self.port_attempts + 1):
            self.ports = tuple(processes.free_port() for _ in range(self.port_count))
            log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
            self._spawn()
            try:
                self._wait_ready(timeout)
                return self
            except DatabaseError:
                self.kill()
                # Another process may have bound a port between choosing and binding it.
                if self.port_count and attempt < self.port_attempts and _ADDRESS_IN_USE.search(self._log_since(log_start)):
                    self._log.info("%s found its port taken; retrying on another", self.what)
                    continue
                raise
            except BaseException:
                self.kill()
                raise
        raise AssertionError("unreachable")

    def stop(self) -> bool:
        """Ask the server to stop, kill it after :attr:`stop_timeout`; True when it stopped cleanly.

        Whatever it forked is killed with it (its process group). Stopping a server that is not
        running does nothing and returns True.
        """
        process = self._process
        if process is None:
            return True
        try:
            if process.poll() is not None:
                return True
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(self.stop_signal)
            try:
                process.wait(timeout=self.stop_timeout)
                return True
            except subprocess.TimeoutExpired:
                self._log.warning("%s ignored %s for %.0fs; killing it", self.what, self.stop_signal.name, self.stop_timeout)
                return False
        finally:
            self.kill()

    def kill(self) -> None:
        """SIGKILL the server's whole process group at once (after a failure, or what a clean stop left)."""
        process, self._process = self._process, None
        if process is None:
            return
        _forget(self)
        _kill_group(process.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)

    # -- diagnostics -------------------------------------------------------------------------
    def last_error(self) -> str:
        """The most telling line of the server's log: the last one that mentions an error, else the last one."""
        return _telling_line(self._log_tail())

    # -- internals ---------------------------------------------------------------------------
    def _spawn(self) -> None:
        argv = self.command()
        self._log.debug("starting %s: %s", self.what, " ".join(processes.redact(argv)))
        _guard_signals()
        with open(self.log_path, "ab") as output:
            try:
                process = processes.popen(
                    argv,
                    env=self.environment(),
                    die_with_parent=signal.SIGKILL,  # a killed brs leaves no server behind
                    process_group=0,  # stop() reaches what the server forks
                    cwd=self.workdir,  # a config file in brs's own directory is not picked up
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    **self.popen_options(),
                )
            except OSError as error:
                raise DatabaseError(f"cannot start {self.what} ({argv[0]}): {error.strerror or error}") from error
        self._process = process
        _remember(self)

    def _wait_ready(self, timeout: float) -> None:
        process = self._process
        assert process is not None
        deadline = time.monotonic() + timeout
        delay = 0.02
        while True:
            code = process.poll()
            if code is not None:
                raise DatabaseError(f"{self.what} exited with code {code}: {self.last_error()}")
            if self.ready():
                return
            if time.monotonic() > deadline:
                raise DatabaseError(f"{self.what} was not ready within {timeout:.0f}s: {self.last_error()}")
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 1.0)

    def _log_tail(self) -> str:
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(max(0, handle.seek(0, os.SEEK_END) - _LOG_TAIL))
                return handle.read().decode(errors="replace")
        except OSError:
            return ""

    def _log_since(self, offset: int) -> str:
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(offset)
                return handle.read(_LOG_TAIL).decode(errors="replace")
        except OSError:
            return ""


def _telling_line(text: str) -> str:
    lines = [_ANSI.sub("", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return "no output"
    line = next((line for line in reversed(lines) if _ERROR_WORD.search(line)), lines[-1])
    line = line.removeprefix("Error: ")
    return line if len(line) <= _QUOTED else line[: _QUOTED - 3] + "..."


# -- never outliving brs ---------------------------------------------------------------------
# Servers that run now, by process group. Hand-written rather than a library: what is needed is
# three small things (a set, an atexit hook, a signal hook) and the order in which they run.
_running: dict[int, TemporaryServer] = {}
_lock = threading.Lock()
_guarded: set[int] = set()


def _remember(server: TemporaryServer) -> None:
    assert server.pid is not None
    with _lock:
        _running[server.pid] = server


def _forget(server: TemporaryServer) -> None:
    with _lock:
        for pid, known in list(_running.items()):
            if known is server:
                del _running[pid]


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _kill_all() -> None:
    """Kill every server still running (brs is exiting)."""
    with _lock:
        pids = list(_running)
        _running.clear()
    for pid in pids:
        _kill_group(pid)


def _on_fatal_signal(signum: int, _frame: FrameType | None) -> None:
    _kill_all()
    # Then die of the signal as if no handler had been installed.
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _guard_signals() -> None:
    """On SIGTERM and SIGHUP that would end brs outright, kill the servers first.

    Only where no handler is installed (the sidecar has its own, which ends in a normal exit
    and so in :func:`_kill_all`), and only from the main thread (Python's rule for handlers).
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signum in _guarded:
            continue
        _guarded.add(signum)
        if signal.getsignal(signum) is signal.SIG_DFL:
            signal.signal(signum, _on_fatal_signal)


atexit.register(_kill_all)
