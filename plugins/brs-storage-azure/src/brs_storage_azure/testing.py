"""Test servers and helpers for the Azure driver: Azurite (npm) in a subprocess.

Import the fixtures into a ``conftest.py`` (``from brs_storage_azure.testing import azurite, ...``).

Every Azurite is started by a fixture on a free 127.0.0.1 port and stopped by the same
fixture, also when the test fails. A missing Azurite fails the tests with the install hint.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from brs import assembly
from brs.testing import ServerProcess, free_port, serve, server_factory, wait_for_port

from brs_storage_azure.storage import AzureStorage

KEY = "0123456789abcdef0123456789abcdef"
ACCOUNT = "devstoreaccount1"
#: Azurite's well-known development key (public, documented by Microsoft).
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
AZURITE = os.environ.get(
    "BRS_AZURITE_BLOB", os.path.join(os.environ.get("BRS_TEST_ROOT", "/opt/brs-test"), "azurite/node_modules/.bin/azurite-blob")
)


@dataclass
class Azurite(ServerProcess):
    """An ``azurite-blob`` subprocess; ``directory`` keeps its data on disk across restarts."""

    directory: Path | None = None
    tls: tuple[Path, Path] | None = None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/{ACCOUNT}"

    def connection_string(self, key: str = ACCOUNT_KEY) -> str:
        scheme = "https" if self.tls else "http"
        return f"DefaultEndpointsProtocol={scheme};AccountName={ACCOUNT};AccountKey={key};BlobEndpoint={self.endpoint};"

    def start(self) -> Azurite:
        if not os.access(AZURITE, os.X_OK):
            pytest.fail(f"Azurite is not installed at {AZURITE}: run scripts/install-test-servers.sh (or set BRS_AZURITE_BLOB)")
        command = [
            AZURITE,
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(self.port),
            "--skipApiVersionCheck",
            "--disableTelemetry",
            "--silent",
        ]
        if self.directory is None:
            command.append("--inMemoryPersistence")
            cwd = Path(tempfile.gettempdir())
        else:
            self.directory.mkdir(parents=True, exist_ok=True)
            command += ["--location", str(self.directory)]
            cwd = self.directory
        if self.tls:
            command += ["--cert", str(self.tls[0]), "--key", str(self.tls[1])]
        self.process = subprocess.Popen(
            command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        return self.ready(lambda: wait_for_port(self.port, self.process, name="Azurite"))

    def env(self, tmp_path: Path, container: str, prefix: str = "") -> dict[str, str]:
        """Environment for ``brs`` subprocesses: the connection string comes from a file, as a
        mounted Kubernetes secret would, never from the command line."""
        tmp_path.mkdir(parents=True, exist_ok=True)
        (tmp_path / "key").write_text(KEY + "\n")
        (tmp_path / "azure-connection-string").write_text(self.connection_string())
        return {
            "BRS_DB": "localfs",
            "BRS_DB_DATA_DIRECTORY": str(tmp_path / "data"),
            "BRS_BACKUP_PROVIDER": "azure",
            "BRS_AZURE_CONTAINER": container,
            "BRS_AZURE_CONNECTION_STRING_FILE": str(tmp_path / "azure-connection-string"),
            "BRS_AZURE_MAX_RETRIES": "2",
            "BRS_OBJECT_PREFIX": prefix,
            "BRS_LOG_FORMAT": "json",
        }


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """One shared in-memory Azurite; tests isolate themselves with unique container names."""
    yield from serve(Azurite())


@pytest.fixture
def azurite_factory() -> Iterator[Callable[..., Azurite]]:
    """Private Azurites for tests that kill them or need TLS."""
    yield from server_factory(Azurite)


def unique_container(tag: str = "brs") -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def azure_storage_on() -> Callable[..., AzureStorage]:
    """Build a driver in-process against an Azurite."""

    def make(server: Azurite, container: str, prefix: str, **more: Any) -> AzureStorage:
        options = {
            "azure_container": container,
            "azure_connection_string": server.connection_string(),
            "azure_max_retries": 2,
            **more,
        }
        storage = assembly.storage("azure", options, object_prefix=prefix)
        assert isinstance(storage, AzureStorage)
        return storage

    return make
