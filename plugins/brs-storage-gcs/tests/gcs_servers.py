"""Servers and helpers for the GCS tests: gcp-storage-emulator in a subprocess.

Every emulator is started by a fixture on a free 127.0.0.1 port and stopped by the same
fixture, also when the test fails. An emulator that cannot start fails the tests.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from brs.interfaces import PluginContext

from brs_storage_gcs import GcsStorage

KEY = "0123456789abcdef0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Emulator:
    """A ``gcp-storage-emulator`` subprocess; ``directory`` makes it keep data on disk."""

    directory: Path | None = None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Emulator:
        binary = Path(sys.executable).with_name("gcp-storage-emulator")
        if not binary.exists():
            pytest.fail("gcp-storage-emulator is not installed: pip install -e 'plugins/brs-storage-gcs[test]'")
        command = [str(binary), "start", "--host=127.0.0.1", f"--port={self.port}"]
        if self.directory is None:
            command.append("--in-memory")
        else:
            self.directory.mkdir(parents=True, exist_ok=True)
        # Without --in-memory the emulator writes .cloudstorage/ into its working directory.
        cwd = self.directory or Path("/tmp")
        self.process = subprocess.Popen(
            command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"gcp-storage-emulator exited with {self.process.returncode}")
            try:
                urllib.request.urlopen(self.endpoint + "/", timeout=2).close()
                return self
            except urllib.error.HTTPError:
                return self
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("gcp-storage-emulator did not answer within 30s") from None
                time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def env(self, tmp_path: Path, bucket: str, prefix: str = "") -> dict[str, str]:
        """Environment for ``brs`` subprocesses using this emulator and localfs under ``tmp_path``."""
        tmp_path.mkdir(parents=True, exist_ok=True)
        (tmp_path / "key").write_text(KEY + "\n")
        return {
            "BRS_DB": "localfs",
            "BRS_DB_DATA_DIRECTORY": str(tmp_path / "data"),
            "BRS_BACKUP_PROVIDER": "gcs",
            "BRS_GCP_BUCKET_NAME": bucket,
            "BRS_GCP_PROJECT": "brs-test",
            "BRS_GCP_RETRY_TIMEOUT": "5",
            "BRS_OBJECT_PREFIX": prefix,
            "BRS_LOG_FORMAT": "json",
            "STORAGE_EMULATOR_HOST": self.endpoint,
        }


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[Emulator]:
    """One shared in-memory emulator; tests isolate themselves with unique bucket names."""
    server = Emulator().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def emulator_factory(tmp_path: Path) -> Iterator[Callable[..., Emulator]]:
    """Private emulators for tests that kill them."""
    started: list[Emulator] = []

    def make(**kwargs: Any) -> Emulator:
        server = Emulator(**kwargs)
        started.append(server)
        return server.start()

    try:
        yield make
    finally:
        for server in started:
            server.stop()


def unique_bucket(tag: str = "brs") -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def gcs_storage_on(monkeypatch: pytest.MonkeyPatch) -> Callable[..., GcsStorage]:
    """Build a driver in-process against an emulator."""

    def make(server: Emulator, bucket: str, prefix: str, **more: Any) -> GcsStorage:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", server.endpoint)
        options = {"gcp_bucket_name": bucket, "gcp_project": "brs-test", "gcp_retry_timeout": 5, **more}
        return GcsStorage(PluginContext(name="gcs", options=options, object_prefix=prefix))

    return make


def listed(env: dict[str, str]) -> list[dict[str, Any]]:
    """``brs backups list --json`` for ``env``."""
    from brs.testing import run_brs

    return list(json.loads(run_brs("backups", "list", "--json", env=env, check=True).stdout))


def engine_for(storage: GcsStorage, data_dir: Path, max_keep: int) -> Any:
    """An in-process engine (localfs + this driver + tar), wired as the CLI wires it."""
    import logging

    from brs.engine import Engine, Settings
    from brs.interfaces import Role
    from brs.plugins import Session, driver_class

    prefix = storage.context.object_prefix
    settings = Settings(
        db="localfs",
        data_dir=data_dir,
        backup_provider="gcs",
        object_prefix=prefix,
        object_max_keep=max_keep,
        compression_method="tar",
        plugin_options=dict(storage.context.options),
    )
    session = Session(load_hook_plugins=False)
    session.use(Role.STORAGE, "gcs", storage)
    for role, name in ((Role.DATABASE, "localfs"), (Role.COMPRESSION, "tar")):
        context = PluginContext(name=name, options={}, data_dir=data_dir, object_prefix=prefix, log=logging.getLogger(name))
        session.use(role, name, driver_class(role, name)(context))
    session.call(Role.STORAGE, "brs_storage_ensure")
    return Engine(session, settings)


def assert_one_line_error(result: Any, *needles: str) -> str:
    """The CLI failed the way a user should see it: exit 1 and one ``brs: error:`` line."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1, result.stderr
    assert len(lines) == 1 and lines[0].startswith("brs: error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return str(lines[0])
