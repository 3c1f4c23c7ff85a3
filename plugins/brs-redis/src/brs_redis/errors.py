"""Errors specific to this plugin."""

from __future__ import annotations

from brs.errors import BrsError

__all__ = ["BackupSkipped"]


class BackupSkipped(BrsError):
    """The backup was deliberately not taken (this server is a replica); nothing was uploaded.

    It is neither a success nor a failure of the database. brs core has no such notion yet, so
    the CLI reports it like an error (exit 1, one line) and the engine counts it as a failed dump.
    """
