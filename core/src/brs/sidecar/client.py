"""HTTP client of the sidecar API, used by ``brs wait`` and by commands run with ``--server``."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from brs import errors
from brs.errors import BrsError, BusyError, ConfigError

__all__ = ["SidecarClient", "SidecarUnavailable", "read_token"]


class SidecarUnavailable(BrsError):
    """The sidecar API cannot be reached (not started yet, or gone)."""

    exit_code = 10


def _error_class(name: str) -> type[BrsError]:
    """The error type the sidecar named, so that ``--server`` exits as a local run would."""
    kind = getattr(errors, name, None)
    return kind if isinstance(kind, type) and issubclass(kind, BrsError) else BrsError


def read_token(path: str | Path | None) -> str | None:
    """The bearer token from ``--api-token-file`` (surrounding whitespace stripped)."""
    if not path:
        return None
    try:
        token = Path(path).read_text().strip()
    except OSError as error:
        raise ConfigError(f"cannot read --api-token-file {path}: {error.strerror or error}") from error
    if not token:
        raise ConfigError(f"--api-token-file {path} is empty")
    return token


class SidecarClient:
    """Calls the JSON API of a running ``brs start``."""

    def __init__(self, base_url: str, token: str | None = None, timeout: float | None = None) -> None:
        if "://" not in base_url:
            base_url = "http://" + base_url
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def request(self, method: str, path: str, body: dict[str, Any] | None = None, timeout: float | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout if timeout is not None else self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            try:
                document = json.loads(error.read() or b"{}")
            except ValueError:
                document = {}
            message = document.get("error") or f"HTTP {error.code} {error.reason}"
            kind = _error_class(str(document.get("type")))
            if error.code == 409:
                kind = BusyError
            raise kind(f"sidecar at {self.base_url}: {message}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            # HTTPException: the sidecar went away in the middle of an answer (IncompleteRead).
            reason = getattr(error, "reason", None) or f"{type(error).__name__}: {error}"
            raise SidecarUnavailable(f"cannot reach the sidecar at {self.base_url}: {reason}") from None
        except ValueError as error:
            raise SidecarUnavailable(f"the sidecar at {self.base_url} sent an answer that is not JSON: {error}") from None

    # -- API --------------------------------------------------------------------------------
    def initializer(self, since: int = 0, wait: float = 0.0) -> dict[str, Any]:
        query = urllib.parse.urlencode({"since": since, "timeout": wait})
        return self.request("GET", f"/v1/initializer?{query}", timeout=wait + 15)  # type: ignore[no-any-return]

    def report_waiter(self, state: str, generation: int, pid: int | None) -> None:
        self.request("POST", "/v1/waiter", {"state": state, "generation": generation, "pid": pid}, timeout=15)

    def list_backups(self) -> dict[str, Any]:
        """``{"backups": [...], "unreadable_manifests": N}``."""
        return self.request("GET", "/v1/backups")  # type: ignore[no-any-return]

    def show_backup(self, version: str) -> dict[str, Any]:
        return self.request("GET", f"/v1/backups/{urllib.parse.quote(version, safe='')}")  # type: ignore[no-any-return]

    def delete_backup(self, version: str, force: bool = False) -> dict[str, Any]:
        query = "?force=true" if force else ""
        path = f"/v1/backups/{urllib.parse.quote(version, safe='')}{query}"
        return self.request("DELETE", path)  # type: ignore[no-any-return]

    def prune(self, dry_run: bool) -> dict[str, Any]:
        return self.request("POST", "/v1/prune", {"dry_run": dry_run})  # type: ignore[no-any-return]

    def status(self) -> dict[str, Any]:
        return self.request("GET", "/v1/status")  # type: ignore[no-any-return]

    def backup(self) -> dict[str, Any]:
        return self.request("POST", "/v1/backups", {})  # type: ignore[no-any-return]

    def verify(self, version: str) -> dict[str, Any]:
        return self.request("POST", f"/v1/backups/{urllib.parse.quote(version, safe='')}/verify", {})  # type: ignore[no-any-return]

    def restore(self, version: str) -> dict[str, Any]:
        return self.request("POST", "/v1/restore", {"version": version})  # type: ignore[no-any-return]
