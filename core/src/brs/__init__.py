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
    # Both are resolved on first use: importing pluggy and the package metadata costs more
    # than the rest of ``brs --help``.
    if name == "hookimpl":
        from brs.hookspecs import hookimpl

        return hookimpl
    if name == "__version__":
        from importlib import metadata

        try:
            return metadata.version("brs")
        except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
            return "0.0.0+unknown"
    raise AttributeError(name)
