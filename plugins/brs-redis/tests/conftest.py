"""Fixtures: real Redis and Valkey servers on free ports, always stopped by the fixture."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The helpers module sits next to this file; pytest's importlib mode does not put it on sys.path.
sys.path.insert(0, str(Path(__file__).parent))

from redis_servers import Server, StartServer, start_servers


@pytest.fixture
def start_server() -> Iterator[StartServer]:
    """``start_server(engine, directory, *extra_args, password=None, appendonly=False)``."""
    started: list[Server] = []
    try:
        yield start_servers(started)
    finally:
        for server in started:
            server.stop()
