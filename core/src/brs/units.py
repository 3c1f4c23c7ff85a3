"""Human-readable quantities for logs, command output and options."""

from __future__ import annotations

import re

__all__ = ["MIN_RATE", "format_size", "parse_rate"]

#: The smallest rate limit taken (64 KiB/s): anything slower is a missing unit ("50" for "50MiB"),
#: not a plan; a 1 GiB backup would take over four hours.
MIN_RATE = 64 << 10

_RATE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:([kmgt])(i?)(b?)|(b?))(?:/s)?", re.IGNORECASE)
_POWERS = {"k": 1, "m": 2, "g": 3, "t": 4}


def format_size(n: int) -> str:
    """``512 B``, ``3.4 MiB``, ``1.2 TiB``: binary units, one decimal."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def parse_rate(text: str) -> int:
    """Bytes per second of a rate such as ``50MiB``, ``50M``, ``400MB/s`` or ``1048576``; 0 for
    ``0`` (no limit).

    ``KiB``, ``MiB``, ``GiB`` and the bare letters ``K``, ``M``, ``G`` count in powers of 1024
    (as rclone's and restic's limits do), ``kB``, ``MB``, ``GB`` in powers of 1000.

    :raises ValueError: not a rate, or one below :data:`MIN_RATE` (the message says which).
    """
    match = _RATE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a rate (examples: 50MiB, 200M, 1GB/s; 0 for no limit)")
    number, prefix, binary, byte = match.group(1), match.group(2), match.group(3), match.group(4)
    base = 1000 if prefix and byte and not binary else 1024
    rate = int(float(number) * base ** _POWERS[prefix.lower()]) if prefix else int(float(number))
    if 0 < rate < MIN_RATE:
        raise ValueError(f"{text!r} is below the smallest rate limit, 64KiB/s (a unit missing? e.g. 50MiB)")
    return rate
