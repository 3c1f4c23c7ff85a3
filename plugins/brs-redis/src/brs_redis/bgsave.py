"""``BGSAVE`` and waiting until that save (not an older or a scheduled one) finished."""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
import redis.exceptions as rexc

from brs.errors import DatabaseError

__all__ = ["bgsave"]

log = logging.getLogger("brs.database.redis")

_POLL_SECONDS = 0.1


def bgsave(client: redis.Redis, label: str, timeout: float) -> dict[str, Any]:
    """Fork a background save and wait until it succeeded; returns the final ``INFO persistence``.

    ``SAVE`` would block every client for the whole dump; ``BGSAVE`` forks and the parent keeps
    serving. All polling goes over the caller's one connection: spawning a client per poll costs
    enough CPU to slow the save down measurably.
    """
    deadline = time.monotonic() + timeout
    before = _persistence(client)
    started_at = int(client.time()[0])  # the server's clock: rdb_last_save_time uses it
    while True:
        try:
            client.bgsave()
            break
        except rexc.ResponseError as error:
            # A save or an AOF rewrite of the server's own is running: let it finish, then take ours,
            # which holds the data as of now rather than as of when that one forked.
            if "in progress" not in str(error):
                raise
            log.debug("%s is busy (%s); waiting", label, error)
            _wait_idle(client, label, deadline)
    info = _wait_done(client, label, deadline)
    if info.get("rdb_last_bgsave_status") != "ok":
        raise DatabaseError(
            f"{label}: BGSAVE failed (rdb_last_bgsave_status:{info.get('rdb_last_bgsave_status')}); see the server log"
        )
    # rdb_saves (Redis >= 7) counts completed saves exactly; rdb_last_save_time has one-second
    # resolution but is enough to prove the last save ended after our request.
    if "rdb_saves" in before and int(info.get("rdb_saves", 0)) <= int(before["rdb_saves"]):
        raise DatabaseError(f"{label}: BGSAVE reported no completed save")
    if int(info.get("rdb_last_save_time", 0)) < started_at:
        raise DatabaseError(f"{label}: the last completed save is older than the BGSAVE request")
    return info


def _persistence(client: redis.Redis) -> dict[str, Any]:
    return dict(client.info("persistence"))


def _busy(info: dict[str, Any]) -> bool:
    return bool(int(info.get("rdb_bgsave_in_progress", 0)) or int(info.get("aof_rewrite_in_progress", 0)))


def _wait_idle(client: redis.Redis, label: str, deadline: float) -> None:
    while _busy(_persistence(client)):
        _sleep_or_fail(label, deadline)


def _wait_done(client: redis.Redis, label: str, deadline: float) -> dict[str, Any]:
    # BGSAVE forks before it replies, so from here on "in progress" means our child runs.
    while int((info := _persistence(client)).get("rdb_bgsave_in_progress", 0)):
        _sleep_or_fail(label, deadline)
    return info


def _sleep_or_fail(label: str, deadline: float) -> None:
    if time.monotonic() > deadline:
        raise DatabaseError(f"{label}: BGSAVE did not finish within --redis-bgsave-timeout")
    time.sleep(_POLL_SECONDS)
