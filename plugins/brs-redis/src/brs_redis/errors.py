"""Errors this plugin raises beyond brs's own."""

from __future__ import annotations

# A replica declines to be backed up with core's BackupSkipped: nothing is uploaded, and the
# sidecar counts it neither as a success nor as a failure (metric result "skipped").
from brs.errors import BackupSkipped

__all__ = ["BackupSkipped"]
