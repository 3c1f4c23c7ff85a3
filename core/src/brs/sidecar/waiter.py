"""``brs wait``: run the database once the sidecar allows it, and stop it when asked to.

The protocol (see :mod:`brs.sidecar.state`): poll ``/v1/initializer``; start the database
when ``status`` is ``done`` and ``database.desired`` is ``run``; when ``desired`` turns to
``stopped``, stop the database gracefully and acknowledge that ``generation`` with
``POST /v1/waiter {"state": "stopped"}``. The sidecar touches the data directory only after
that acknowledgement. Every report is sent again when the sidecar restarted (a new
``instance``), so a new sidecar learns that a database is already running.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Sequence
from types import FrameType
from typing import Any

from brs.errors import BrsError
from brs.sidecar.client import SidecarClient
from brs.sidecar.exec import Child, exit_code

__all__ = ["Waiter"]

log = logging.getLogger("brs.wait")
POLL = 2.0


class Waiter:
    """Supervises the database process on behalf of the sidecar."""

    def __init__(self, client: SidecarClient, argv: Sequence[str], stop_timeout: float = 30.0, poll: float = POLL) -> None:
        self.client = client
        self.child = Child(argv)
        self.stop_timeout = stop_timeout
        self.poll = poll
        self.terminating: int | None = None
        self._wake = threading.Event()
        self._started = False
        self._reported: tuple[str, int, str] | None = None
        self._signalled_pid: int | None = None
        self._generation, self._instance = 0, ""

    # -- signals ----------------------------------------------------------------------------
    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        # Forward at once: the database should start its shutdown while we are still polling.
        self.terminating = signum
        if self.child.running():
            self.child.send(signum)
            self._signalled_pid = self.child.pid
        self._wake.set()

    def install_signal_handlers(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)

    # -- main loop --------------------------------------------------------------------------
    def run(self) -> int:
        """Returns the exit code for ``brs wait``: the database's own."""
        log.info("waiting until the sidecar at %s lets the database start", self.client.base_url)
        version, instance, last_status, unreachable_since = 0, "", "", 0.0
        while True:
            if self.terminating is not None:
                return self._terminate()
            if self._started and not self.child.running():
                code = exit_code(self.child.returncode() or 0)
                log.info("the database exited by itself with %d", code)
                self._report("stopped", self._generation, instance, force=True)
                return code
            try:
                snapshot = self.client.initializer(since=version, wait=self.poll)
            except Exception as error:  # noqa: BLE001 - whatever the sidecar does, the database keeps running
                if not isinstance(error, BrsError):
                    log.warning("unexpected answer from the sidecar: %s: %s", type(error).__name__, error)
                now = time.monotonic()
                if not unreachable_since or now - unreachable_since > 30:
                    log.info("sidecar not reachable yet: %s", error)
                    unreachable_since = now
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            unreachable_since = 0.0
            if self.terminating is not None or (self._started and not self.child.running()):
                # A signal arrived or the database exited while we polled: handle that first,
                # never (re)start the database on a stale decision.
                continue
            if snapshot["instance"] != instance:
                instance, version = snapshot["instance"], 0
                self._reported = None
            else:
                version = int(snapshot["version"])
            self._act(snapshot, instance)
            status = f"{snapshot['status']}: {snapshot['message']}"
            if status != last_status and not self._started:
                log.info("initializer: %s", status, extra={"status": snapshot["status"]})
                last_status = status

    def _act(self, snapshot: dict[str, Any], instance: str) -> None:
        database = snapshot["database"]
        desired, generation = database["desired"], int(database["generation"])
        self._generation, self._instance = generation, instance
        running = self._started and self.child.running()
        if desired == "stopped":
            if running:
                log.info("the sidecar asked to stop the database (generation %d)", generation)
                self.child.stop(self.stop_timeout)
                self.child = Child(self.child.argv)
                self._started = False
            self._report("stopped", generation, instance)
        elif running:
            self._report("running", generation, instance)
        elif snapshot["status"] == "done":
            log.info("the sidecar allows the database to start")
            self.child.start()
            self._started = True
            self._report("running", generation, instance)
        else:
            self._report("waiting", generation, instance)

    def _report(self, state: str, generation: int, instance: str, force: bool = False) -> None:
        key = (state, generation, instance)
        if key == self._reported and not force:
            return
        try:
            self.client.report_waiter(state, generation, self.child.pid if state == "running" else None)
            self._reported = key
        except Exception as error:  # noqa: BLE001 - reported again on the next change or sidecar restart
            log.debug("could not report %s to the sidecar: %s", state, error)

    def _terminate(self) -> int:
        signum = self.terminating or signal.SIGTERM
        if not self._started:
            log.info("received %s before the database started; exiting", signal.Signals(signum).name)
            return 0
        # The signal went to the child already unless it arrived just as the child started.
        code = self.child.stop(self.stop_timeout, signum, signalled=self._signalled_pid == self.child.pid)
        self._report("stopped", self._generation, self._instance, force=True)
        return exit_code(code)
