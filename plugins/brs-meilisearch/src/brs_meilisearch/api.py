"""The HTTP API calls the plugin needs, with failures turned into one-line errors."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

import meilisearch
from meilisearch.errors import MeilisearchApiError, MeilisearchCommunicationError, MeilisearchError, MeilisearchTimeoutError

from brs.errors import DatabaseError

__all__ = ["MeiliApi"]

T = TypeVar("T")
#: Seconds one HTTP request may take; long operations are tasks that are polled.
REQUEST_TIMEOUT = 30
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\"()]+)")


class MeiliApi:
    """A Meilisearch server reached over HTTP."""

    def __init__(self, url: str, api_key: str | None) -> None:
        self.url = url
        self._client = meilisearch.Client(url, api_key, timeout=REQUEST_TIMEOUT)

    def _call(self, what: str, action: Callable[[], T]) -> T:
        try:
            return action()
        except MeilisearchApiError as error:
            code = f" ({error.code})" if getattr(error, "code", None) else ""
            raise DatabaseError(f"Meilisearch at {self.url} refused to {what}: {error.message}{code}") from error
        except MeilisearchCommunicationError as error:
            raise DatabaseError(f"cannot reach Meilisearch at {self.url} to {what}: {_reason(error)}") from error
        except MeilisearchTimeoutError as error:
            raise DatabaseError(f"Meilisearch at {self.url} did not {what} in time") from error
        except MeilisearchError as error:
            raise DatabaseError(f"Meilisearch at {self.url} failed to {what}: {error}") from error

    def version(self) -> str:
        """The server's package version, e.g. ``1.21.0``."""
        return str(self._call("report its version", self._client.get_version)["pkgVersion"])

    def healthy(self) -> bool:
        """True when ``/health`` answers ``available`` (never raises)."""
        try:
            return bool(self._client.health().get("status") == "available")
        except (MeilisearchError, OSError):
            return False

    def create_dump(self, timeout: float) -> str:
        """Create a dump, wait until it is written and return its uid (the file is ``<uid>.dump``)."""
        info = self._call("create a dump", self._client.create_dump)
        task = self._call(
            "finish the dump",
            lambda: self._client.wait_for_task(info.task_uid, timeout_in_ms=int(timeout * 1000), interval_in_ms=200),
        )
        if task.status != "succeeded":
            message = (task.error or {}).get("message", "no reason given")
            raise DatabaseError(f"Meilisearch dump task {info.task_uid} {task.status}: {message}")
        uid = (task.details or {}).get("dumpUid")
        if not uid:
            raise DatabaseError(f"Meilisearch dump task {info.task_uid} succeeded but named no dump file")
        return str(uid)

    def unfinished_tasks(self) -> int:
        """How many tasks are still enqueued or processing."""
        result = self._call("list tasks", lambda: self._client.get_tasks({"statuses": ["enqueued", "processing"], "limit": 1}))
        return int(result.total if result.total is not None else len(result.results))


def _reason(error: Exception) -> str:
    """The useful part of a requests error (``Connection refused``), not its repr chain."""
    text = str(error)
    match = _ERRNO.search(text)
    if match:
        return match.group(1).strip()
    return " ".join(text.split())[:200]
