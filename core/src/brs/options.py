"""Helpers for plugin options: secrets with a ``-file`` twin, and reading them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from brs.errors import ConfigError

__all__ = ["read_secret", "secret_option"]


def secret_option(name: str, help: str) -> tuple[click.Option, click.Option]:
    """``--NAME`` and ``--NAME-file`` options for a secret (password, token, key).

    Prefer the file (a mounted Kubernetes secret) or ``BRS_<NAME>``: values on a command line
    are visible in process listings. brs hides secret flags from its own process title, but
    not from the container spec.
    """
    return (
        click.Option([f"--{name}"], default=None, help=f"{help} Prefer --{name}-file.", show_default=False),
        click.Option(
            [f"--{name}-file"],
            default=None,
            type=click.Path(dir_okay=False),
            help=f"File that holds the {help.rstrip('.').lower()}.",
        ),
    )


def read_secret(options: Mapping[str, Any], name: str) -> str | None:
    """The secret ``name`` (dashes or underscores) from its option or its ``-file`` twin."""
    key = name.replace("-", "_")
    value = options.get(key)
    path = options.get(f"{key}_file")
    if value and path:
        raise ConfigError(f"--{name} and --{name}-file are both set; use one")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as error:
            raise ConfigError(f"cannot read --{name}-file {path}: {error.strerror or error}") from error
    return str(value) if value else None
