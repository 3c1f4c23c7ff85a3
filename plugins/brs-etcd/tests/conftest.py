"""Fixtures: real etcd members on free ports, always stopped by the fixture."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The helpers module sits next to this file; pytest's importlib mode does not put it on sys.path.
sys.path.insert(0, str(Path(__file__).parent))

from etcd_servers import Member, StartMember, start_members


@pytest.fixture
def start_member() -> Iterator[StartMember]:
    """``start_member(version, data_dir, name="n1", peer_port=None)``."""
    started: list[Member] = []
    try:
        yield start_members(started)
    finally:
        for member in started:
            member.stop()
