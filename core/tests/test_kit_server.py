"""brs.kit.server: a temporary server starts, answers, stops, and never outlives brs.

The server is real: Python's own ``http.server`` on a free loopback port (and small Python
programs that misbehave in the ways real servers do).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import ClassVar

import pytest

from brs.errors import DatabaseError
from brs.kit.server import TemporaryServer
from brs.processes import _alive as alive  # a zombie counts as gone

pytestmark = pytest.mark.server("python")


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def gone_soon(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


class HttpServer(TemporaryServer):
    """``python -m http.server`` serving ``workdir/www``, after an optional prelude program."""

    what = "temporary HTTP server"
    prelude: ClassVar[str] = ""

    def command(self) -> list[str]:
        www = self.workdir / "www"
        www.mkdir(exist_ok=True)
        program = textwrap.dedent(self.prelude) + textwrap.dedent(
            """
            import http.server, sys
            handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=sys.argv[2])
            http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), handler).serve_forever()
            """
        )
        return [sys.executable, "-u", "-c", program, str(self.port), str(www)]

    def ready(self) -> bool:
        return answers(self.port)


def test_start_waits_until_it_answers_and_the_context_stops_it(tmp_path: Path) -> None:
    with HttpServer(tmp_path / "work") as server:
        server.start(timeout=30)
        assert answers(server.port)
        pid = server.pid
        assert pid is not None and server.running()
        assert os.getpgid(pid) == pid, "the server leads its own process group"
    assert not alive(pid)
    assert not server.running()
    assert not answers(server.port)
    assert (tmp_path / "work" / "server.log").exists()


def test_a_failing_body_still_stops_the_server(tmp_path: Path) -> None:
    server = HttpServer(tmp_path)
    with pytest.raises(KeyError), server:
        server.start(timeout=30)
        pid = server.pid
        raise KeyError("the restore failed")
    assert pid is not None and not alive(pid)


def test_the_server_gets_no_brs_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BRS_ENCRYPTION_KEY", "the-backup-key")
    monkeypatch.setenv("KIT_TEST_PLAIN", "visible")

    class Printing(HttpServer):
        prelude = """
            import os
            print("env:", sorted(k for k in os.environ if k.startswith(("BRS_", "KIT_TEST_"))), flush=True)
            """

    with Printing(tmp_path) as server:
        server.start(timeout=30)
    log = server.log_path.read_text()
    assert "env: ['KIT_TEST_PLAIN']" in log
    assert "the-backup-key" not in log


def test_a_server_that_exits_is_a_one_line_error_with_its_last_words(tmp_path: Path) -> None:
    class Crashing(HttpServer):
        prelude = """
            import sys
            print("loading data files")
            print("Error: the data directory is locked by another process")
            print("shutting down")
            sys.exit(3)
            """

    server = Crashing(tmp_path)
    with pytest.raises(DatabaseError) as caught:
        server.start(timeout=30)
    message = str(caught.value)
    assert message == "temporary HTTP server exited with code 3: the data directory is locked by another process"
    assert not server.running() and server.pid is None


def test_a_server_that_never_gets_ready_is_stopped_within_the_timeout(tmp_path: Path) -> None:
    class Silent(HttpServer):
        prelude = """
            import time
            print("still replaying the journal", flush=True)
            time.sleep(600)
            """

    server = Silent(tmp_path)
    started = time.monotonic()
    with pytest.raises(DatabaseError) as caught:
        server.start(timeout=1)
    assert time.monotonic() - started < 10
    assert str(caught.value) == "temporary HTTP server was not ready within 1s: still replaying the journal"
    log = server.log_path.read_text()
    assert "still replaying" in log
    assert server.pid is None


def test_a_missing_program_is_a_one_line_error(tmp_path: Path) -> None:
    class Missing(HttpServer):
        def command(self) -> list[str]:
            return [str(tmp_path / "no-such-server"), str(self.port)]

    with pytest.raises(DatabaseError, match=r"^cannot start temporary HTTP server \(.*no-such-server\): No such file"):
        Missing(tmp_path).start(timeout=5)


def test_a_readiness_verdict_that_waiting_cannot_fix_stops_the_server(tmp_path: Path) -> None:
    class Rejecting(HttpServer):
        def ready(self) -> bool:
            if answers(self.port):
                raise DatabaseError("the server rejected the admin password")
            return False

    server = Rejecting(tmp_path)
    with pytest.raises(DatabaseError, match="rejected the admin password"):
        server.start(timeout=30)
    assert server.pid is None


def test_stop_also_ends_what_the_server_forked(tmp_path: Path) -> None:
    class Forking(HttpServer):
        prelude = """
            import subprocess, sys
            helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
            print("helper", helper.pid, flush=True)
            """

    with Forking(tmp_path) as server:
        server.start(timeout=30)
        helper = int(server.log_path.read_text().split("helper ", 1)[1].split()[0])
        assert alive(helper)
    assert gone_soon(helper)


def test_a_server_that_ignores_the_stop_signal_is_killed(tmp_path: Path) -> None:
    class Stubborn(HttpServer):
        stop_timeout = 0.5
        prelude = """
            import signal
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            """

    server = Stubborn(tmp_path)
    server.start(timeout=30)
    pid = server.pid
    assert pid is not None
    assert server.stop() is False
    assert not alive(pid)
    assert server.stop() is True  # stopping again is harmless


def test_a_taken_port_is_retried_on_another(tmp_path: Path) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    taken = holder.getsockname()[1]

    class Unlucky(HttpServer):
        attempts = 0

        def command(self) -> list[str]:
            Unlucky.attempts += 1
            if Unlucky.attempts == 1:
                self.ports = (taken,)  # as if another process bound it first
            return super().command()

    try:
        with Unlucky(tmp_path) as server:
            server.start(timeout=30)
            assert server.port != taken
            assert answers(server.port)
        assert Unlucky.attempts == 2
        assert "Address already in use" in server.log_path.read_text()
    finally:
        holder.close()


# What a brs process does: start a server, then end without stopping it, one way or another.
_OWNER = """
import os, signal, sys, time, urllib.request
from pathlib import Path
from brs.kit.server import TemporaryServer


class HttpServer(TemporaryServer):
    def command(self):
        return [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(self.port)]

    def ready(self):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=1).close()
            return True
        except OSError:
            return False


# As brs starts outside nohup: an ignored SIGHUP would be inherited from whoever ran the tests.
signal.signal(signal.SIGHUP, signal.SIG_DFL)
server = HttpServer(Path(sys.argv[1]))
server.start(timeout=30)
print(server.pid, flush=True)
if sys.argv[2] == "exit":
    sys.exit(0)
os.kill(os.getpid(), getattr(signal, sys.argv[2]))
time.sleep(30)
"""


@pytest.mark.parametrize("how", ["exit", "SIGTERM", "SIGHUP", "SIGKILL"])
def test_the_server_never_outlives_brs(tmp_path: Path, how: str) -> None:
    owner = subprocess.run(
        [sys.executable, "-c", _OWNER, str(tmp_path), how], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    expected = {"exit": 0, "SIGTERM": -signal.SIGTERM, "SIGHUP": -signal.SIGHUP, "SIGKILL": -signal.SIGKILL}[how]
    assert owner.returncode == expected, owner.stderr
    pid = int(owner.stdout.split()[0])
    assert gone_soon(pid), f"the server outlived brs ({how})"
