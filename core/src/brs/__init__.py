"""brs: automatic backup and recovery for databases on Kubernetes, as a sidecar.

The public surface for plugin authors is :mod:`brs.interfaces` (driver base classes),
:mod:`brs.hookspecs` (hooks and markers), :mod:`brs.archive` (what dumps write into),
:mod:`brs.errors` and :mod:`brs.testing` (contract tests).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from brs.hookspecs import hookimpl

__all__ = ["__version__", "hookimpl"]


def __getattr__(name: str) -> Any:
    # Both are resolved on first use: importing pluggy costs more than the rest of ``brs --help``.
    if name == "hookimpl":
        from brs.hookspecs import hookimpl

        return hookimpl
    if name == "__version__":
        from brs.entrypoints import version_of

        return version_of("brs") or "0.0.0+unknown"  # unknown: running from a bare checkout
    raise AttributeError(name)
