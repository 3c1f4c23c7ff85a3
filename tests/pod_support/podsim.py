"""A two-container pod simulated with real processes: ``brs start`` and ``brs wait -- fakedb``.

Both processes share a data directory, as the two containers share the data volume. Each runs
in its own session so a test can kill a "container" with everything in it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from brs.testing.helpers import brs_executable
import contextlib

HERE = Path(__file__).resolve().parent
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(condition: Callable[[], T], timeout: float = 90.0, what: str = "condition", interval: float = 0.1) -> T:
    """Poll ``condition`` until it returns something truthy (generous timeouts: noisy machines)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purposes.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


class Pod:
    """Directories, ports and processes of one simulated pod."""

    def __init__(self, root: Path, token: str | None = None) -> None:
        self.root = root
        self.data = root / "data"
        self.backups = root / "backup"
        self.inbox = root / "inbox"
        self.report = root / "report.jsonl"
        self.ready = root / "ready"
        self.api_port = free_port()
        self.metrics_port = free_port()
        self.url = f"http://127.0.0.1:{self.api_port}"
        self.token = token
        self.sidecar: subprocess.Popen[bytes] | None = None
        self.waiter: subprocess.Popen[bytes] | None = None
        self.runs = 0
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
            "BRS_LOG_FORMAT": "json",
        }
        self.env.pop("BRS_SERVER", None)

    # -- processes --------------------------------------------------------------------------
    def sidecar_argv(self, *extra: str) -> list[str]:
        return [
            brs_executable(), "start", "--db", "journaldb", "--db-data-directory", str(self.data),
            "--local-provider-backup-path", str(self.backups), "--port", str(self.api_port),
            "--metrics-port", str(self.metrics_port), "--metrics-bind-addr", "127.0.0.1",
            "--backup-cron-schedule", "0 0 1 1 *", "--probe-interval", "0.2", "--stop-ack-timeout", "60",
            "--journaldb-ready-file", str(self.ready), *extra,
        ]  # fmt: skip

    def start_sidecar(self, *extra: str) -> subprocess.Popen[bytes]:
        self.runs += 1
        log = open(self.root / f"sidecar-{self.runs}.log", "wb")  # noqa: SIM115 - the child process writes to it
        self.sidecar = subprocess.Popen(
            self.sidecar_argv(*extra), stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
        )
        return self.sidecar

    def start_waiter(self, *extra: str) -> subprocess.Popen[bytes]:
        log = open(self.root / f"waiter-{self.runs}.log", "wb")  # noqa: SIM115 - the child process writes to it
        token = ["--api-token-file", str(self.root / "token")] if self.token else []
        argv = [
            brs_executable(), "wait", "--server", self.url, "--stop-timeout", "15", *token, *extra, "--",
            sys.executable, str(HERE / "fakedb.py"), str(self.data), str(self.inbox), str(self.report), str(self.ready),
        ]  # fmt: skip
        self.waiter = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        return self.waiter

    def start(self, *sidecar_extra: str) -> None:
        if self.token:
            (self.root / "token").write_text(self.token + "\n")
        self.start_sidecar(*sidecar_extra)
        self.start_waiter()

    def kill(self) -> None:
        """Kill both "containers" hard (node failure), database included."""
        for process in (self.sidecar, self.waiter):
            if process is not None and process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
            if process is not None:
                process.wait(30)
        for pid in self.database_pids():
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        self.ready.unlink(missing_ok=True)

    # -- observations -----------------------------------------------------------------------
    def events(self) -> list[dict[str, Any]]:
        if not self.report.exists():
            return []
        return [json.loads(line) for line in self.report.read_text().splitlines() if line.strip()]

    def starts(self) -> list[dict[str, Any]]:
        return [e for e in self.events() if e["event"] == "start"]

    def database_pids(self) -> list[int]:
        return sorted({int(e["pid"]) for e in self.events()})

    def wait_started(self, count: int, timeout: float = 120.0) -> dict[str, Any]:
        starts = wait_for(
            lambda: (s := self.starts()) and len(s) >= count and s, timeout, f"database start #{count}\n{self.logs()}"
        )
        return starts[count - 1]

    def wait_ready(self, timeout: float = 120.0) -> None:
        wait_for(lambda: self.get("/readyz")[0] == 200, timeout, f"sidecar ready\n{self.logs()}")

    def logs(self, which: str = "sidecar") -> str:
        path = self.root / f"{which}-{self.runs}.log"
        return path.read_text(errors="replace")[-6000:] if path.exists() else ""

    def log_records(self, which: str = "sidecar", run: int | None = None) -> list[dict[str, Any]]:
        path = self.root / f"{which}-{run or self.runs}.log"
        records = []
        for line in path.read_text(errors="replace").splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
        return records

    def write(self, value: str) -> None:
        """Have the running database append ``value`` and wait until it did."""
        self.inbox.mkdir(parents=True, exist_ok=True)
        # Written under another name and renamed: the database must never see a half-written item.
        item = self.inbox / f"{time.time_ns()}.txt"
        item.with_suffix(".part").write_text(value)
        item.with_suffix(".part").rename(item)
        wait_for(lambda: not any(self.inbox.glob("*.txt")), 60, f"the database to take {value!r}")

    # -- API --------------------------------------------------------------------------------
    def request(
        self, method: str, path: str, body: dict[str, Any] | None = None, token: str | None = None, timeout: float = 180
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")
        except (urllib.error.URLError, OSError) as error:
            return 0, {"error": str(error)}

    def get(self, path: str) -> tuple[int, Any]:
        return self.request("GET", path, timeout=30)

    def post(self, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        return self.request("POST", path, body or {}, token=self.token)

    def backup(self) -> str:
        """A backup through the API; waits while another one runs (the sidecar's first, at startup)."""

        def attempt() -> str | None:
            status, document = self.post("/v1/backups")
            if status == 409 and "already running" in str(document.get("error")):
                return None
            assert status == 201, (status, document, self.logs())
            return str(document["version"])

        return wait_for(attempt, 300, "a backup through the API", interval=0.5)

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=30) as response:
            return response.read().decode()


def metric_value(text: str, name: str, labels: Sequence[tuple[str, str]] = ()) -> float | None:
    """The value of one sample in Prometheus text format (None when absent)."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        series, _, value = line.rpartition(" ")
        metric, _, label_text = series.partition("{")
        if metric != name:
            continue
        if all(f'{k}="{v}"' in label_text for k, v in labels):
            return float(value)
    return None


class ServerPod:
    """A pod whose database container runs a real server: ``brs start`` plus ``brs wait -- SERVER``.

    Subclasses build the two command lines; this starts them (each in its own session, with its
    log in ``root``), waits for readiness through the API, and kills both like a node failure.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.api_port = free_port()
        self.url = f"http://127.0.0.1:{self.api_port}"
        self.processes: list[subprocess.Popen[bytes]] = []
        self.runs = 0

    def launch(self, sidecar: list[str], database: list[str], env: dict[str, str], stop_timeout: float = 30) -> None:
        """Start the sidecar and ``brs wait -- database`` as the two containers."""
        self.runs += 1
        waiter = [brs_executable(), "wait", "--server", self.url, "--stop-timeout", str(stop_timeout), "--", *database]
        for name, argv in (("sidecar", sidecar), ("waiter", waiter)):
            log = open(self.root / f"{name}-{self.runs}.log", "wb")  # noqa: SIM115 - the child process writes to it
            self.processes.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True))

    @property
    def waiter(self) -> subprocess.Popen[bytes]:
        return self.processes[-1]

    def logs(self) -> str:
        return "".join((self.root / f"{n}-{self.runs}.log").read_text(errors="replace")[-4000:] for n in ("sidecar", "waiter"))

    def wait_ready(self) -> None:
        def ready() -> bool:
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=10) as response:
                    return bool(response.status == 200)
            except OSError:
                return False

        wait_for(ready, 180, f"database ready\n{self.logs()}", interval=0.5)

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        """POST JSON to the sidecar's API: its status and decoded answer."""
        request = urllib.request.Request(
            self.url + path, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def backup(self) -> str:
        """A backup through the API; waits while another one runs (the sidecar's first, at startup)."""

        def attempt() -> str | None:
            status, answer = self.post("/v1/backups", {})
            if status == 409:
                return None
            assert status == 201, (status, answer, self.logs())
            return str(answer["version"])

        return wait_for(attempt, 300, "a backup through the API", interval=0.5)

    def kill(self) -> None:
        """Kill both containers hard (node failure), the server with them."""
        for process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
            process.wait(60)
        self.processes.clear()


def make_pods(root: Path) -> tuple[Callable[..., Pod], Callable[[], None]]:
    """A factory of pods below ``root`` and a finalizer that kills every one of them."""
    created: list[Pod] = []

    def make(name: str = "pod", token: str | None = None) -> Pod:
        directory = root / name
        directory.mkdir(parents=True)
        pod = Pod(directory, token)
        created.append(pod)
        return pod

    def cleanup() -> None:
        for pod in created:
            pod.kill()

    return make, cleanup
