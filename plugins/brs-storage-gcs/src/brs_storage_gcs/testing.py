"""Test servers and helpers for the GCS driver: gcp-storage-emulator in a subprocess.

Import the fixtures into a ``conftest.py`` (``from brs_storage_gcs.testing import gcs_emulator, ...``).

Every emulator is started by a fixture on a free 127.0.0.1 port and stopped by the same
fixture, also when the test fails. An emulator that cannot start fails the tests.
"""

from __future__ import annotations

import http.client
import ssl
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from brs import assembly
from brs.testing import RelayProxy, ServerProcess, free_port, make_certificates, serve, server_factory, wait_for_http

from brs_storage_gcs.storage import GcsStorage

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
        storage = assembly.storage("gcs", options, object_prefix=prefix)
        assert isinstance(storage, GcsStorage)
        return storage

    return make


# -- TLS in front of the emulator ----------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    """``ca`` signed the proxy's certificate for 127.0.0.1; ``other_ca`` is an unrelated CA."""

    ca: Path
    cert: Path
    key: Path
    other_ca: Path


@pytest.fixture(scope="session")
def gcs_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    ours = make_certificates(tmp_path_factory.mktemp("pki"))
    other = make_certificates(tmp_path_factory.mktemp("other-pki"))
    return Pki(ours / "ca.crt", ours / "server.crt", ours / "server.key", other / "ca.crt")


class TlsProxy(RelayProxy):
    """HTTPS on a free 127.0.0.1 port, forwarding each request to the plain-HTTP emulator.

    It works at the HTTP level rather than relaying bytes because the emulator writes absolute
    ``http://`` URLs (the resumable upload ``Location``, ``mediaLink``) from the Host header;
    they are rewritten to ``https://``, as a TLS-terminating load balancer in front of a
    backend would have to.
    """

    scheme = "https"
    idle_timeout = 30  # idle keep-alive connections end, so their threads do

    def __init__(self, upstream: str, cert: Path, key: Path) -> None:
        super().__init__(upstream)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        # The handshake then happens in the request's thread: a client that stalls or aborts it
        # cannot block the accepting loop.
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True, do_handshake_on_connect=False)
        #: ``"METHOD path"`` of every request relayed, to show which went through TLS.
        self.requests: list[str] = []

    @staticmethod
    def _origins(handler: BaseHTTPRequestHandler) -> tuple[str, str]:
        host = handler.headers.get("Host")
        return f"http://{host}", f"https://{host}"

    def intercept(self, handler: BaseHTTPRequestHandler) -> bool:
        self.requests.append(f"{handler.command} {handler.path}")
        return False

    def rewrite_header(self, handler: BaseHTTPRequestHandler, key: str, value: str) -> str:
        return value.replace(*self._origins(handler)) if key.lower() == "location" else value

    def rewrite_body(self, handler: BaseHTTPRequestHandler, response: http.client.HTTPResponse, data: bytes) -> bytes:
        if "json" not in (response.getheader("Content-Type") or ""):
            return data
        plain, secure = self._origins(handler)
        return data.replace(plain.encode(), secure.encode())


@pytest.fixture(scope="session")
def gcs_tls_proxy(gcs_emulator: Emulator, gcs_pki: Pki) -> Iterator[TlsProxy]:
    """The shared emulator behind HTTPS with a certificate from ``gcs_pki.ca``."""
    with TlsProxy(gcs_emulator.endpoint, gcs_pki.cert, gcs_pki.key).running() as proxy:
        yield proxy
