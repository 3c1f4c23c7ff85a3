"""Logging setup: JSON lines in containers, readable lines on a terminal."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from brs.loglevels import LEVELS

__all__ = ["LEVELS", "configure"]

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line with time, level, logger, message and any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                document[key] = value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
        if record.exc_info:
            document["error"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=False)


def configure(level: str = "info", fmt: str = "auto") -> None:
    """Configure the root logger once per process (later calls replace the handler)."""
    name = "warning" if level == "warn" else level
    if fmt == "auto":
        fmt = "text" if sys.stderr.isatty() else "json"
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(name.upper())
    # Third-party libraries chatter at info level, and at debug level some (botocore, azure)
    # log request headers that carry session tokens: keep them at warning, even when debugging.
    for noisy in ("stevedore", "botocore", "boto3", "urllib3", "s3transfer", "azure", "google"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
