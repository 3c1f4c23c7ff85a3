"""Finding plugins: which are installed, which distribution provides each, and loading one class.

Entry points are read once per process, and only the driver a run selects per role is imported
(so an installed but unused cloud SDK is never imported, and a broken unrelated plugin never
stops a run). Wiring the selected drivers together is :mod:`brs.assembly`'s job.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from typing import Any

from brs.entrypoints import EntryPoint, entry_points
from brs.errors import PluginError, UnknownPlugin
from brs.interfaces import Compression, Database, Plugin, Role, Storage

__all__ = [
    "PluginInfo",
    "distribution_of",
    "driver_class",
    "has_entry_points",
    "installed_names",
    "list_plugins",
    "require_installed",
]

_BASES: dict[Role, type[Plugin[Any]]] = {Role.DATABASE: Database, Role.STORAGE: Storage, Role.COMPRESSION: Compression}


def _entry_points(group: str) -> list[EntryPoint]:
    return sorted((ep for ep in entry_points() if ep.group == group), key=lambda ep: ep.name)


def has_entry_points(group: str) -> bool:
    """Whether any installed distribution registers an entry point in ``group``."""
    return bool(_entry_points(group))


def installed_names(role: Role) -> list[str]:
    """Names registered for ``role``, read from metadata without importing anything."""
    return sorted({ep.name for ep in _entry_points(role.value)})


def distribution_of(group: str, name: str) -> tuple[str, str]:
    """``(distribution, version)`` that provides entry point ``name`` in ``group``."""
    for ep in _entry_points(group):
        if ep.name == name:
            return ep.dist, ep.version
    return "unknown", "unknown"


def require_installed(role: Role, name: str) -> list[EntryPoint]:
    """The one entry point of plugin ``name``, checked without importing it.

    :raises PluginError: one line that lists what is installed when ``name`` is unknown (with
        "did you mean"), or names both distributions when two claim it.
    """
    installed = installed_names(role)
    if name not in installed:
        import difflib

        close = difflib.get_close_matches(name, installed, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        available = ", ".join(installed) or "none"
        raise UnknownPlugin(f"no {role.label} plugin named {name!r} is installed (installed: {available}){hint}")
    claimants = [ep for ep in _entry_points(role.value) if ep.name == name]
    if len(claimants) > 1:
        dists = ", ".join(ep.dist for ep in claimants)
        raise PluginError(f"{role.label} plugin {name!r} is provided twice ({dists}); uninstall one")
    return claimants


@functools.cache
def driver_class(role: Role, name: str) -> type[Plugin[Any]]:
    """Import and return the class registered as ``name`` for ``role``.

    :raises PluginError: one line that lists what is installed when ``name`` is unknown,
        names both distributions when two claim it, or says why it failed to load.
    """
    claimants = require_installed(role, name)
    # Loaded directly rather than through stevedore's DriverManager, which scans every entry
    # point again on each call: the entry points read above already name the one to import.
    try:
        cls = claimants[0].load()
    except Exception as error:
        origin = " ".join(distribution_of(role.value, name))
        raise PluginError(f"{role.label} plugin {name!r} ({origin}) failed to load: {type(error).__name__}: {error}") from error
    base = _BASES[role]
    if not (inspect.isclass(cls) and issubclass(cls, base)):
        raise PluginError(f"{role.label} plugin {name!r} is not a subclass of brs.interfaces.{base.__name__}")
    return cls


@dataclass(frozen=True)
class PluginInfo:
    """One row of ``brs plugins list``."""

    role: str
    name: str
    distribution: str
    version: str
    status: str
    error: str = ""


def list_plugins(check: bool = True) -> list[PluginInfo]:
    """Every installed plugin; with ``check``, import each one and report failures per plugin."""
    from brs.lifecycle import HOOKS_GROUP

    rows = []
    for group in [role.value for role in Role] + [HOOKS_GROUP]:
        for ep in _entry_points(group):
            dist, version = ep.dist, ep.version
            status, error = "not checked", ""
            if check:
                try:
                    ep.load()
                    status = "ok"
                except Exception as exc:  # noqa: BLE001 - a broken plugin is a row, not a crash
                    status, error = "broken", f"{type(exc).__name__}: {exc}"
            rows.append(PluginInfo(group.split(".", 1)[1], ep.name, dist, version, status, error))
    return rows
