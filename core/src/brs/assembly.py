"""The composition root: the one place that selects, configures and wires drivers into an engine.

The CLI, the sidecar, the test kit and the tests all build engines here. Discovery (which
plugins are installed, which distribution provides one) stays in :mod:`brs.plugins`; the rules
of composition live here: a driver receives only its own options, a compression driver is made
on demand for backups stored with another method, and hook plugins are loaded once per engine.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from brs.errors import PluginError
from brs.interfaces import Compression, Database, Plugin, PluginContext, Role, Storage
from brs.plugins import distribution_of, driver_class

if TYPE_CHECKING:
    import click

    from brs.engine import Engine, Settings

__all__ = ["Drivers", "assemble", "compression", "database", "driver", "plugin_options", "storage"]


def driver(
    role: Role,
    name: str,
    values: Mapping[str, Any] | None = None,
    *,
    data_dir: Path | None = None,
    object_prefix: str = "",
) -> Plugin[Any]:
    """One driver, configured from merged option values keyed by click parameter name.

    The driver's class reads only its own declared options from ``values``
    (:meth:`~brs.options.PluginOptions.from_values`); nothing else reaches it.
    """
    cls = driver_class(role, name)
    settings = cls.Options.from_values(values or {})
    context = PluginContext(
        name=name,
        settings=settings,
        data_dir=data_dir,
        object_prefix=object_prefix.strip("/"),
        log=logging.getLogger(f"brs.{role.label}.{name}"),
    )
    return cls(context)


def _wrong(role: Role, name: str) -> PluginError:
    return PluginError(f"{role.label} plugin {name!r} does not subclass the {role.label} base class")


# driver_class() checked the subclass already; the isinstance checks below tell mypy.
def database(name: str, values: Mapping[str, Any] | None = None, *, data_dir: Path | None = None) -> Database[Any]:
    """The database driver ``name`` (see :func:`driver`)."""
    made = driver(Role.DATABASE, name, values, data_dir=data_dir)
    if not isinstance(made, Database):
        raise _wrong(Role.DATABASE, name)
    return made


def storage(name: str, values: Mapping[str, Any] | None = None, *, object_prefix: str = "") -> Storage[Any]:
    """The storage driver ``name`` (see :func:`driver`)."""
    made = driver(Role.STORAGE, name, values, object_prefix=object_prefix)
    if not isinstance(made, Storage):
        raise _wrong(Role.STORAGE, name)
    return made


def compression(name: str) -> Compression:
    """The compression driver ``name`` (compression methods take no options)."""
    made = driver(Role.COMPRESSION, name)
    if not isinstance(made, Compression):
        raise _wrong(Role.COMPRESSION, name)
    return made


@dataclass
class Drivers:
    """The drivers of one engine: one per role; compression drivers are made when first used
    (a listing needs none, and each one imports its codec library)."""

    storage: Storage[Any]
    compression_method: str
    database: Database[Any] | None = None
    _compressions: dict[str, Compression] = field(default_factory=dict)

    @property
    def compression(self) -> Compression:
        """The driver of the configured method, for new backups."""
        return self.compression_for(self.compression_method)

    def compression_for(self, method: str) -> Compression:
        """The driver of ``method`` (also a backup made with another method than the configured one)."""
        if method not in self._compressions:
            self._compressions[method] = compression(method)
        return self._compressions[method]

    def database_origin(self) -> tuple[str, str]:
        """``(distribution, version)`` of the selected database plugin, for the manifest."""
        if self.database is None:
            return "unknown", "unknown"
        return distribution_of(Role.DATABASE.value, self.database.context.name)

    def database_is(self, name: str) -> bool:
        """Whether database plugin ``name`` is the same driver class as the selected one."""
        return self.database is not None and driver_class(Role.DATABASE, name) is type(self.database)


def plugin_options(role: Role, name: str) -> list[click.Option]:
    """The click options of plugin ``name``, derived from its options class."""
    return driver_class(role, name).Options.click_options()


def assemble(
    settings: Settings,
    values: Mapping[str, Any] | None = None,
    *,
    storage_driver: Storage[Any] | None = None,
    load_hooks: bool = True,
    hook_plugins: Iterable[tuple[str, Any]] = (),
) -> Engine:
    """The engine for ``settings``: its drivers configured from ``values``, its hook plugins loaded.

    :param values: option values keyed by click parameter name; each driver reads only its own.
    :param storage_driver: a storage driver built already (the storage conformance tests pass
        theirs), instead of one made from ``settings.backup_provider`` and ``values``.
    :param load_hooks: load the ``brs.hooks`` entry-point group (tests of core turn it off).
    :param hook_plugins: extra ``(name, plugin)`` lifecycle plugins (the sidecar's metrics).
    """
    from brs.engine import Engine
    from brs.lifecycle import Lifecycle

    values = values or {}
    drivers = Drivers(
        storage=storage_driver or storage(settings.backup_provider, values, object_prefix=settings.object_prefix),
        compression_method=settings.compression_method,
        database=database(settings.db, values, data_dir=settings.data_dir) if settings.db else None,
    )
    if settings.compression_level is not None:
        # Made now rather than at the first backup, so that a level the method lacks stops `brs start`.
        drivers.compression.use_level(settings.compression_level)
    lifecycle = Lifecycle()
    if load_hooks:
        lifecycle.load_entry_points()
    for name, plugin in hook_plugins:
        lifecycle.register(plugin, name)
    return Engine(drivers, settings, lifecycle)
