"""Fixtures: the pinned Meilisearch binary and real servers on free loopback ports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from brs_meilisearch.testing import MeiliServer, SampleServer, load_sample, pinned_binary, snapshot


@pytest.fixture(scope="session")
def meili_binary() -> Path:
    """The pinned Meilisearch binary, checked against its recorded sha256."""
    return pinned_binary()


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
