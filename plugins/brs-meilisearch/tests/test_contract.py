"""brs's database contract against a real Meilisearch 1.21 server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from meili_servers import MASTER_KEY, MeiliServer, SampleServer, assert_matches, snapshot

from brs.interfaces import Database, PluginContext
from brs.testing import DatabaseContract
from brs_meilisearch import Meilisearch


def make_driver(server: MeiliServer, binary: Path, previous: Path, **extra: object) -> Meilisearch:
    options = {
        "meilisearch_url": server.url,
        "meilisearch_api_key": server.master_key,
        "meilisearch_dump_dir": server.dump_dir,
        "meilisearch_binary": str(binary),
        "meilisearch_previous_binary": previous,
        **extra,
    }
    return Meilisearch(PluginContext(name="meilisearch", options=options, data_dir=server.db_path))


class TestMeilisearchContract(DatabaseContract):
    @pytest.fixture
    def database(self, sample_server: SampleServer, meili_binary: Path, tmp_path: Path) -> Database:
        return make_driver(sample_server.server, meili_binary, tmp_path / "previous-binary" / "meilisearch")

    @pytest.fixture
    def assert_restored(self, sample_server: SampleServer, start_server: Callable[..., MeiliServer]) -> Callable[[Path], None]:
        def check(target: Path) -> None:
            restored = start_server(target, target.parent / "restored-dumps")
            assert restored.master_key == MASTER_KEY
            assert_matches(snapshot(restored.client()), sample_server.expected)

        return check
