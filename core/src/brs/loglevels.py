"""The log level names every command accepts (kept apart so that ``--help`` needs no logging import)."""

from __future__ import annotations

__all__ = ["LEVELS"]

LEVELS = ("debug", "info", "warning", "warn", "error")
