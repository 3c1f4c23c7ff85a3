"""The ``brs`` command line."""

from __future__ import annotations

from brs.cli.app import cli, main, run

__all__ = ["cli", "main", "run"]
