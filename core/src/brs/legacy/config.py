"""Configuration of backup-restore-sidecar, read so that its deployments keep working unchanged.

That tool read every option from ``BACKUP_RESTORE_SIDECAR_<NAME>`` variables and from a
``config.yaml`` in its own search path, and called the GCS provider ``gcp``. brs reads all of
it below its own names (flag > ``BRS_*`` > ``BACKUP_RESTORE_SIDECAR_*`` > config file >
default), and says once which old variables it used.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

__all__ = [
    "OLD_ENV_PREFIX",
    "WAIT_KEYS",
    "WaitConfig",
    "expand_command",
    "old_config_paths",
    "old_environment",
    "translate",
    "wait_config",
    "warn_deprecated",
]

OLD_ENV_PREFIX = "BACKUP_RESTORE_SIDECAR_"
#: Old names of storage plugins.
_PROVIDERS = {"gcp": "gcs"}
#: Keys of the shared config file that only ``brs wait`` reads.
WAIT_KEYS = frozenset({"post_exec_cmds", "initializer_endpoint"})
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


def old_config_paths() -> tuple[Path, ...]:
    """Where the old tool looked for ``config.yaml``, in its order (after brs's own path)."""
    try:
        home: tuple[Path, ...] = (Path.home() / ".backup-restore-sidecar" / "config.yaml",)
    except RuntimeError:  # no $HOME and no passwd entry (an arbitrary container user id)
        home = ()
    return (Path("/etc/backup-restore-sidecar/config.yaml"), *home, Path("config.yaml"))


def old_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``BACKUP_RESTORE_SIDECAR_DB_DATA_DIRECTORY=/data`` as ``{"db_data_directory": "/data"}``."""
    source = os.environ if environ is None else environ
    return {
        name[len(OLD_ENV_PREFIX) :].lower(): value
        for name, value in source.items()
        if name.startswith(OLD_ENV_PREFIX) and len(name) > len(OLD_ENV_PREFIX)
    }


def warn_deprecated(old_env: Mapping[str, Any]) -> None:
    """The one log line that names the ``BACKUP_RESTORE_SIDECAR_*`` variables a run used."""
    if old_env:
        names = ", ".join(sorted(OLD_ENV_PREFIX + name.upper() for name in old_env))
        logging.getLogger("brs.config").warning(
            "deprecated: read %s; rename them to BRS_* (BRS_* variables take precedence)", names
        )


def translate(values: dict[str, Any]) -> dict[str, Any]:
    """Old values that brs spells differently (``backup_provider: gcp`` is ``gcs``)."""
    provider = values.get("backup_provider")
    if isinstance(provider, str) and provider in _PROVIDERS:
        values = {**values, "backup_provider": _PROVIDERS[provider]}
    return values


def expand_command(command: str, environ: Mapping[str, str] | None = None) -> list[str]:
    """An old ``post-exec-cmds`` entry as argv: ``$VAR``/``${VAR}`` expanded, split on white space.

    The old tool did exactly this (no shell, no quoting); unset variables expand to nothing.
    """
    source = os.environ if environ is None else environ
    expanded = _VARIABLE.sub(lambda match: source.get(match.group(1) or match.group(2), ""), command)
    return expanded.split()


@dataclass(frozen=True)
class WaitConfig:
    """What ``backup-restore-sidecar wait`` read from its config: the commands and the sidecar."""

    commands: list[list[str]]
    server: str | None


def wait_config(config: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> WaitConfig:
    """``post-exec-cmds`` (expanded and split as the old tool did) and ``initializer-endpoint``.

    ``BACKUP_RESTORE_SIDECAR_*`` variables override the file, as they did in the old tool; a
    variable holds one command per line.
    """
    values = {**config, **old_environment(environ)}
    raw = values.get("post_exec_cmds") or []
    if isinstance(raw, str):
        raw = [line for line in raw.splitlines() if line.strip()]
    commands = [argv for argv in (expand_command(str(command), environ) for command in raw) if argv]
    endpoint = values.get("initializer_endpoint")
    server = None
    if endpoint:
        # The old endpoint is a URL of which only host:port was used; brs's API speaks HTTP there.
        parsed = urlparse(str(endpoint) if "//" in str(endpoint) else f"http://{endpoint}")
        server = f"http://{parsed.netloc}"
    return WaitConfig(commands, server)
