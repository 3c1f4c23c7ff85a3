"""Human-readable quantities for logs and command output."""

from __future__ import annotations

__all__ = ["format_size"]


def format_size(n: int) -> str:
    """``512 B``, ``3.4 MiB``, ``1.2 TiB``: binary units, one decimal."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"
