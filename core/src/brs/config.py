"""The YAML config file: the same keys as the long options (``db-data-directory: /data``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from brs.errors import ConfigError
from brs.legacy.config import old_config_paths, translate

__all__ = ["DEFAULT_PATHS", "load_config"]

DEFAULT_PATHS = (Path("/etc/brs/config.yaml"),)


def load_config(path: str | None) -> dict[str, Any]:
    """Read ``path`` (or the first default path that exists) into click parameter names.

    Without ``path`` and ``/etc/brs/config.yaml``, the search path of backup-restore-sidecar
    is tried, so its deployments keep their ConfigMap. Precedence, highest first: command-line
    flag, ``BRS_*`` variable, ``BACKUP_RESTORE_SIDECAR_*`` variable, this file, built-in default.
    """
    candidates = [Path(path)] if path else [p for p in (*DEFAULT_PATHS, *old_config_paths()) if p.is_file()]
    if not candidates:
        return {}
    import yaml  # only when there is a file to read: most runs in a pod have one, --help has none

    source = candidates[0]
    try:
        document = yaml.safe_load(source.read_text()) or {}
    except OSError as error:
        raise ConfigError(f"cannot read config file {source}: {error.strerror or error}") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"config file {source} is not valid YAML: {str(error).splitlines()[0]}") from error
    if not isinstance(document, dict):
        raise ConfigError(f"config file {source} must be a mapping of option names to values")
    return translate({str(key).replace("-", "_"): value for key, value in document.items()})


def env_name(param_name: str) -> str:
    return "BRS_" + param_name.upper()
