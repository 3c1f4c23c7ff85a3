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
from brs.testing import ServerProcess, free_port, serve, server_factory, wait_for_http

from brs_storage_gcs import GcsStorage

KEY = "0123456789abcdef0123456789abcdef"


@dataclass
class Emulator(ServerProcess):
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
        return self.ready(lambda: wait_for_http(self.endpoint + "/", self.process, poll=0.05))

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
    yield from serve(Emulator())


@pytest.fixture
def emulator_factory(tmp_path: Path) -> Iterator[Callable[..., Emulator]]:
    """Private emulators for tests that kill them."""
    yield from server_factory(Emulator)


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
