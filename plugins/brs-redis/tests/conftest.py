"""Fixtures: real Redis and Valkey servers on free ports (brs_redis.testing), always stopped."""

from __future__ import annotations

from brs_redis.testing import start_server as start_server
