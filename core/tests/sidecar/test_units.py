"""Unit tests of the sidecar's small parts: state protocol, lock, schedule, exec, API helpers."""

from __future__ import annotations

import json
import sys
import threading
import time
from datetime import datetime, UTC
from pathlib import Path

import pytest

from brs.errors import BrsError, BusyError, ConfigError
from brs.sidecar.api import is_loopback
from brs.sidecar.client import SidecarClient, SidecarUnavailable, read_token
from brs.sidecar.exec import Child, exit_code, run_commands
from brs.sidecar.lock import OperationLock
from brs.sidecar.scheduler import CronSchedule
from brs.sidecar.state import Desired, InitStatus, SidecarState


def test_lock_refuses_a_second_operation_with_busy() -> None:
    lock = OperationLock()
    with lock.hold("backup"):
        with pytest.raises(BusyError, match="a backup is already running"), lock.hold("restore"):
            pass
        assert not lock.wait_idle(0.05)
    assert lock.wait_idle(0.05)
    with lock.hold("restore"):
        pass


def test_stop_protocol_needs_an_ack_of_the_new_generation() -> None:
    state = SidecarState()
    state.report_waiter("running", 0, 42)
    generation = state.request_stop()
    assert state.desired is Desired.STOPPED and generation == 1
    # An old or unrelated "stopped" report is not an acknowledgement.
    state.report_waiter("stopped", 0, None)
    assert not state.wait_for_stop_ack(generation, 0.05)
    threading.Timer(0.1, state.report_waiter, args=("stopped", generation, None)).start()
    assert state.wait_for_stop_ack(generation, 30)
    state.allow_run()
    assert state.snapshot()["database"] == {"desired": "run", "generation": 1, "ready": False}


def test_long_poll_returns_on_change_or_timeout() -> None:
    state = SidecarState()
    version = state.snapshot()["version"]
    assert state.wait_change(version, 0.05)["version"] == version
    threading.Timer(0.1, state.set_status, args=(InitStatus.DONE, "done")).start()
    snapshot = state.wait_change(version, 30)
    assert snapshot["version"] > version and snapshot["status"] == "done"


def test_unknown_waiter_state_is_refused() -> None:
    with pytest.raises(BrsError):
        SidecarState().report_waiter("dancing", 0, None)


@pytest.mark.parametrize("expression", ["*/3 * * * *", "0 2 * * 1-5", "  5  4 * * *  "])
def test_cron_schedule_accepts_five_fields(expression: str) -> None:
    schedule = CronSchedule(expression)
    moment = datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC)
    assert schedule.next_after(moment) > moment


@pytest.mark.parametrize("expression", ["* * * *", "*/3 * * * * *", "@every 1h", "61 * * * *", "nonsense"])
def test_cron_schedule_refuses_anything_else(expression: str) -> None:
    with pytest.raises(ConfigError, match="5-field cron"):
        CronSchedule(expression)


def test_cron_next_tick() -> None:
    schedule = CronSchedule("*/3 * * * *")
    assert schedule.next_after(datetime(2026, 1, 1, 0, 1, tzinfo=UTC)) == datetime(2026, 1, 1, 0, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.1.2.3", False),
        ("pod.example", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_exit_codes_and_commands() -> None:
    assert exit_code(0) == 0 and exit_code(3) == 3 and exit_code(-15) == 143
    run_commands([f"{sys.executable} -c 'import sys; sys.exit(0)'"])
    with pytest.raises(BrsError, match="exited with 4"):
        run_commands([f"{sys.executable} -c 'import sys; sys.exit(4)'"])
    with pytest.raises(ConfigError, match="cannot run"):
        run_commands(["/nonexistent/program"])


def test_child_gets_its_arguments_verbatim_and_stops_gracefully(tmp_path: Path) -> None:
    out = tmp_path / "argv.json"
    script = (
        "import json, signal, sys, time; json.dump(sys.argv[2:], open(sys.argv[1], 'w'));"
        "signal.signal(signal.SIGTERM, lambda *a: sys.exit(7)); time.sleep(60)"
    )
    child = Child([sys.executable, "-c", script, str(out), "a b", "*", "$HOME", "'q'"])
    child.start()
    deadline = time.monotonic() + 60
    while not (out.exists() and out.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    # No shell: no word splitting, globbing, variable expansion or quote removal.
    assert json.loads(out.read_text()) == ["a b", "*", "$HOME", "'q'"]
    assert child.running()
    assert child.stop(30) == 7 and not child.running()


def test_child_that_ignores_sigterm_is_killed() -> None:
    child = Child(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('x', flush=True); time.sleep(60)",
        ]
    )
    child.start()
    time.sleep(0.5)
    assert exit_code(child.stop(0.5)) == 137


def test_client_reports_an_unreachable_sidecar() -> None:
    with pytest.raises(SidecarUnavailable, match="cannot reach the sidecar"):
        SidecarClient("127.0.0.1:9", timeout=5).list_backups()


def test_token_file(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("  abc \n")
    assert read_token(path) == "abc"
    assert read_token(None) is None
    path.write_text("\n")
    with pytest.raises(ConfigError, match="empty"):
        read_token(path)
    with pytest.raises(ConfigError, match="cannot read"):
        read_token(tmp_path / "missing")


def test_pre_exec_commands_from_the_environment_are_one_per_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from brs.cli.sidecar import start

    monkeypatch.setenv("BRS_PRE_EXEC_CMDS", "echo one two\necho 'three four'")
    ctx = start.make_context("start", ["--db", "localfs"])
    assert ctx.params["pre_exec_cmds"] == ("echo one two", "echo 'three four'")
