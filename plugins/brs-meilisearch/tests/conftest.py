"""Fixtures: the pinned Meilisearch binary and real servers on free loopback ports."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# The helpers module sits next to this file; pytest's importlib mode does not put it on sys.path.
sys.path.insert(0, str(Path(__file__).parent))

from meili_servers import DEFAULT_BINARY, MEILISEARCH_SHA256, MeiliServer, SampleServer, load_sample, snapshot


@pytest.fixture(scope="session")
def meili_binary() -> Path:
    """The pinned Meilisearch binary, checked against its recorded sha256."""
    path = Path(os.environ.get("BRS_MEILISEARCH_BINARY") or DEFAULT_BINARY)
    if not path.is_file():
        pytest.fail(f"Meilisearch binary {path} is missing: run scripts/install-test-servers.sh (or set BRS_MEILISEARCH_BINARY)")
    with open(path, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    assert digest == MEILISEARCH_SHA256, f"{path} has sha256 {digest}, expected the pinned {MEILISEARCH_SHA256}"
    return path


@pytest.fixture
def start_server(meili_binary: Path) -> Iterator[Callable[..., MeiliServer]]:
    """Start servers on given directories; every one is stopped at teardown, even on failure."""
    started: list[MeiliServer] = []

    def start(db_path: Path, dump_dir: Path | None = None) -> MeiliServer:
        server = MeiliServer(meili_binary, db_path, dump_dir or db_path.parent / "dumps")
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def sample_server(meili_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SampleServer]:
    """One loaded server per test module (loading is the slow part); stopped at teardown."""
    root = tmp_path_factory.mktemp("meili-sample")
    server = MeiliServer(meili_binary, root / "data", root / "dumps")
    try:
        server.start()
        load_sample(server.client())
        yield SampleServer(server, snapshot(server.client()))
    finally:
        server.stop()
