"""brs's database contract against a real Meilisearch 1.21 server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from brs.interfaces import Database
from brs.testing import DatabaseContract, free_port
from brs_meilisearch.testing import MASTER_KEY, MeiliServer, SampleServer, assert_matches, driver, load_bulk, snapshot

pytestmark = pytest.mark.server("meilisearch")


@pytest.fixture(scope="module")
def bulky_server(meili_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeiliServer]:
    root = tmp_path_factory.mktemp("meili-bulky")
    server = MeiliServer(meili_binary, root / "data", root / "dumps")
    try:
        load_bulk(server.start().client())
        yield server
    finally:
        server.stop()


class TestMeilisearchContract(DatabaseContract):
    @pytest.fixture
    def database(self, sample_server: SampleServer, meili_binary: Path, tmp_path: Path) -> Database[Any]:
        previous = tmp_path / "previous-binary" / "meilisearch"
        return sample_server.server.driver(meili_binary, meilisearch_previous_binary=str(previous))

    @pytest.fixture
    def unreachable_database(self, meili_binary: Path, tmp_path: Path) -> Database[Any]:
        return driver(
            {
                "meilisearch_url": f"http://127.0.0.1:{free_port()}",
                "meilisearch_api_key": MASTER_KEY,
                "meilisearch_dump_dir": str(tmp_path),
                "meilisearch_binary": str(meili_binary),
                "meilisearch_timeout": 5,
            }
        )

    @pytest.fixture
    def bulky_database(self, bulky_server: MeiliServer, meili_binary: Path, tmp_path: Path) -> Database[Any]:
        return bulky_server.driver(meili_binary, meilisearch_previous_binary=str(tmp_path / "previous" / "meilisearch"))

    @pytest.fixture
    def assert_restored(self, sample_server: SampleServer, start_server: Callable[..., MeiliServer]) -> Callable[[Path], None]:
        def check(target: Path) -> None:
            restored = start_server(target, target.parent / "restored-dumps")
            assert restored.master_key == MASTER_KEY
            assert_matches(snapshot(restored.client()), sample_server.expected)

        return check
