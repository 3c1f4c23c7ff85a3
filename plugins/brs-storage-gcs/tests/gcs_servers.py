"""Servers and helpers for the GCS tests: gcp-storage-emulator in a subprocess.

Every emulator is started by a fixture on a free 127.0.0.1 port and stopped by the same
fixture, also when the test fails. An emulator that cannot start fails the tests.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from brs.interfaces import PluginContext
from brs.testing import free_port, kill_server, stop_server, wait_for_http

from brs_storage_gcs import GcsStorage

KEY = "0123456789abcdef0123456789abcdef"


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
        try:
            wait_for_http(self.endpoint + "/", self.process, poll=0.05)
        except RuntimeError:
            self.stop()
            raise
        return self

    def kill(self) -> None:
        """SIGKILL: the server dies mid-request, as in a crash."""
        kill_server(self.process)

    def stop(self) -> None:
        stop_server(self.process)

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
