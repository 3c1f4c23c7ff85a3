"""Real pods for the tests: rootful podman with a private configuration, never a network.

Every podman call goes through :class:`Podman`, which points podman at the configuration
``scripts/install-container-tools.sh`` writes (``CONTAINERS_CONF``/``CONTAINERS_STORAGE_CONF``
under ``BRS_PODS_ROOT``) and adds ``--network none`` to every build, run and play: containers of
one pod talk over the pod's own loopback, and no bridge or address is ever created.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from kube_to_podman import claim_names

REPO = Path(__file__).resolve().parents[2]
PODS_ROOT = Path(os.environ.get("BRS_PODS_ROOT", "/var/lib/brs-test/podman"))
API = "http://127.0.0.1:8000"


class PodmanError(AssertionError):
    """A podman command failed; the message carries its output."""


class Podman:
    """podman with the tests' private configuration; ``--network none`` wherever one could be made."""

    def __init__(self, root: Path = PODS_ROOT) -> None:
        conf, storage = root / "containers.conf", root / "storage.conf"
        if shutil.which("podman") is None or not conf.is_file() or not storage.is_file():
            raise PodmanError(f"podman or its configuration in {root} is missing: run `make container-tools`")
        self.env = {**os.environ, "CONTAINERS_CONF": str(conf), "CONTAINERS_STORAGE_CONF": str(storage)}

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 600, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        argv = ["podman", *args]
        result = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=timeout, input=input)
        if check and result.returncode != 0:
            raise PodmanError(f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
        return result

    def build(self, containerfile: Path, tag: str, context: Path, build_args: Mapping[str, str]) -> None:
        args = [f"--build-arg={k}={v}" for k, v in build_args.items()]
        self("build", "--network", "none", "--pull=never", "-q", "-f", str(containerfile), "-t", tag, *args, str(context))

    def run(self, image: str, *argv: str, volumes: Sequence[str] = (), user: str | None = None) -> str:
        """A one-off container (``--rm``), for example to inspect a volume while the pod is down."""
        options = [f"--volume={v}" for v in volumes] + ([f"--user={user}"] if user else [])
        return self("run", "--rm", "--network", "none", "--pull=never", *options, image, *argv).stdout

    def image_ids(self) -> set[str]:
        return set(self("images", "-a", "-q", "--no-trunc").stdout.split())

    def networks(self) -> set[str]:
        return set(self("network", "ls", "--format", "{{.Name}}").stdout.split())


@dataclass
class Images:
    """Local tags of the images a session built."""

    base: str
    stock_redis: str
    database: str
    etcd: str
    meilisearch: str
    provision: str
    rethinkdb: str = ""


@dataclass
class Session:
    podman: Podman
    images: Images
    suffix: str
    networks_before: set[str]
    links_before: set[str]
    timings: dict[str, float]
    #: Names of the pods played, removed at the end whatever happened.
    pods: list[str]


def link_names() -> set[str]:
    """Names of the host's network devices (``ip -o link``)."""
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line}


@dataclass
class LogLine:
    time: datetime
    text: str


@dataclass
class Pod:
    """One played pod (converted manifest): its containers, logs, API and volumes."""

    podman: Podman
    documents: list[dict[str, Any]]
    workdir: Path
    name: str = field(init=False)
    volumes: list[str] = field(init=False)

    def __post_init__(self) -> None:
        (pod,) = [d for d in self.documents if d["kind"] == "Pod"]
        self.name = pod["metadata"]["name"]
        self.volumes = claim_names(self.documents)
        self.manifest = self.workdir / f"{self.name}.yaml"
        self.manifest.write_text(yaml.safe_dump_all(self.documents, sort_keys=False))

    def container(self, name: str) -> str:
        return f"{self.name}-{name}"

    def play(self) -> None:
        self.podman("kube", "play", "--network", "none", str(self.manifest))

    def exec(self, container: str, *argv: str, check: bool = True, input: str | None = None) -> str:
        options = ["-i"] if input is not None else []
        return self.podman("exec", *options, self.container(container), *argv, check=check, input=input).stdout

    def logs(self, container: str) -> list[LogLine]:
        result = self.podman("logs", "--timestamps", self.container(container))
        lines = []
        for raw in (result.stdout + result.stderr).splitlines():
            stamp, _, text = raw.partition(" ")
            lines.append(LogLine(_parse_time(stamp), text))
        lines.sort(key=lambda line: line.time)
        return lines

    def log_text(self, container: str) -> str:
        return "\n".join(line.text for line in self.logs(container))

    def first(self, container: str, pattern: str) -> LogLine:
        for line in self.logs(container):
            if re.search(pattern, line.text):
                return line
        raise AssertionError(f"no line matching {pattern!r} in the log of {container}:\n{self.log_text(container)[-4000:]}")

    def api(self, method: str, path: str, body: Mapping[str, Any] | None = None, container: str = "brs") -> Any:
        """Call the sidecar's HTTP API from inside the pod (its loopback), with brs's own Python."""
        script = (
            "import json, sys, urllib.request, urllib.error\n"
            "m, url, body = sys.argv[1], sys.argv[2], sys.argv[3]\n"
            "data = body.encode() if body else None\n"
            "r = urllib.request.Request(url, data=data, method=m, headers={'Content-Type': 'application/json'})\n"
            "try:\n"
            "    with urllib.request.urlopen(r, timeout=300) as resp: print(resp.status); print(resp.read().decode())\n"
            "except urllib.error.HTTPError as e: print(e.code); print(e.read().decode())\n"
            "except OSError as e: print(0); print(json.dumps({'error': str(e)}))\n"
        )
        raw = self.exec(container, "/opt/brs/bin/python", "-c", script, method, API + path, json.dumps(body) if body else "")
        status, _, text = raw.partition("\n")
        return int(status), json.loads(text) if text.strip() else None

    def wait_ready(self, timeout: float = 180) -> None:
        def ready() -> bool:
            status, _ = self.api("GET", "/readyz")
            return bool(status == 200)

        wait_for(ready, timeout, lambda: f"{self.name} ready\n{self.diagnostics()}")

    def backup(self) -> str:
        """A backup through the API; waits while a scheduled one runs (the manifests back up every
        15 minutes, and a tick may fall on the test's own backup)."""
        status, answer = self._when_not_busy("/v1/backups", {})
        assert status == 201, answer
        return str(answer["version"])

    def restore(self, version: str) -> Any:
        """A restore through the API; waits while a scheduled backup runs, as :meth:`backup` does."""
        status, answer = self._when_not_busy("/v1/restore", {"version": version})
        assert status == 200, (answer, self.diagnostics())
        return answer

    def _when_not_busy(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        """POST ``body``, again while the sidecar answers 409 (another operation runs)."""
        deadline = time.monotonic() + 300
        while True:
            status, answer = self.api("POST", path, body)
            if status != 409 or time.monotonic() > deadline:
                return status, answer
            time.sleep(1)

    def state(self, container: str) -> dict[str, Any]:
        info = json.loads(self.podman("container", "inspect", self.container(container)).stdout)[0]
        return dict(info["State"])

    def stop(self, timeout: int = 60) -> None:
        self.podman("pod", "stop", "-t", str(timeout), self.name, timeout=timeout + 60)

    def remove(self) -> None:
        """Remove the pod (stopping it gracefully first); its volumes stay."""
        if self.podman("pod", "exists", self.name, check=False).returncode == 0:
            self.podman("pod", "stop", "-t", "60", self.name, check=False, timeout=120)
            self.podman("pod", "rm", "-f", self.name)

    def remove_volume(self, claim: str) -> None:
        self.podman("volume", "rm", claim)

    def diagnostics(self) -> str:
        out = []
        for container in self._containers():
            out.append(f"--- {container}\n" + self.podman("logs", container, check=False).stderr[-3000:])
        return "\n".join(out)

    def _containers(self) -> list[str]:
        result = self.podman("ps", "-a", "--filter", f"pod={self.name}", "--format", "{{.Names}}", check=False)
        return result.stdout.split()


def _parse_time(stamp: str) -> datetime:
    # RFC 3339 with nanoseconds and an offset: keep microseconds for datetime.
    match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", stamp)
    if not match:
        return datetime.min
    fraction = (match.group(2) or "0")[:6].ljust(6, "0")
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    return datetime.fromisoformat(f"{match.group(1)}.{fraction}{zone}")


def wait_for(condition: Callable[[], bool], timeout: float, what: Callable[[], str] | str, interval: float = 1.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what() if callable(what) else what}")


def secret(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": dict(data)}


def manifest(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]
