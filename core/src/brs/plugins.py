"""Finding, selecting and wiring plugins.

Entry points are read once per process, and only the driver a run selects per role is imported
(so an installed but unused cloud SDK is never imported, and a broken unrelated plugin never
stops a run). The selected driver instances, plus every lifecycle plugin from the ``brs.hooks`` group,
are registered in one pluggy :class:`PluginManager`; core calls operations through its hooks,
which lets other plugins wrap them.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from typing import Any, cast

import pluggy

from brs import hookspecs
from brs.errors import BrsError, PluginError, UnknownPlugin
from brs.interfaces import Compression, Database, Plugin, Role, Storage

__all__ = ["HOOKS_GROUP", "PluginInfo", "Session", "distribution_of", "driver_class", "installed_names", "list_plugins"]

HOOKS_GROUP = "brs.hooks"
_BASES: dict[Role, type[Plugin]] = {Role.DATABASE: Database, Role.STORAGE: Storage, Role.COMPRESSION: Compression}
log = logging.getLogger("brs.plugins")


class BrsPluginManager(pluggy.PluginManager):
    """pluggy manager that treats every ``brs_*`` method of a driver as a hook implementation.

    Drivers subclass the typed bases in :mod:`brs.interfaces`; overriding a method there must
    not require repeating a decorator, just as pytest treats ``pytest_*`` functions.
    """

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        for group in hookspecs.SPEC_GROUPS:
            self.add_hookspecs(group)

    def parse_hookimpl_opts(self, plugin: Any, name: str) -> Any:
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None and name.startswith("brs_") and not inspect.isclass(plugin):
            member = getattr(plugin, name, None)
            if inspect.isroutine(member):
                return {}
        return opts


@functools.cache
def _all_entry_points() -> metadata.EntryPoints:
    # Scanning every installed distribution costs tens of milliseconds; the set of installed
    # plugins does not change while a command runs.
    # Python 3.11 answers a deprecated per-group mapping; select() without criteria is every
    # entry point on every version.
    return cast(metadata.EntryPoints, metadata.entry_points().select())


def _entry_points(group: str) -> list[metadata.EntryPoint]:
    return sorted(_all_entry_points().select(group=group), key=lambda ep: ep.name)


def installed_names(role: Role) -> list[str]:
    """Names registered for ``role``, read from metadata without importing anything."""
    return sorted({ep.name for ep in _entry_points(role.value)})


def distribution_of(group: str, name: str) -> tuple[str, str]:
    """``(distribution, version)`` that provides entry point ``name`` in ``group``."""
    for ep in _entry_points(group):
        if ep.name == name and ep.dist is not None:
            return ep.dist.name, ep.dist.version
    return "unknown", "unknown"


@functools.cache
def driver_class(role: Role, name: str) -> type[Plugin]:
    """Import and return the class registered as ``name`` for ``role``.

    :raises PluginError: one line that lists what is installed when ``name`` is unknown,
        names both distributions when two claim it, or says why it failed to load.
    """
    installed = installed_names(role)
    if name not in installed:
        close = difflib.get_close_matches(name, installed, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        available = ", ".join(installed) or "none"
        raise UnknownPlugin(f"no {role.label} plugin named {name!r} is installed (installed: {available}){hint}")
    # Loaded directly rather than through stevedore's DriverManager, which scans every entry
    # point again on each call: the entry points read above already name the one to import.
    claimants = [ep for ep in _entry_points(role.value) if ep.name == name]
    if len(claimants) > 1:
        dists = ", ".join(ep.dist.name if ep.dist else "?" for ep in claimants)
        raise PluginError(f"{role.label} plugin {name!r} is provided twice ({dists}); uninstall one")
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
    rows = []
    for group in [role.value for role in Role] + [HOOKS_GROUP]:
        for ep in _entry_points(group):
            dist, version = (ep.dist.name, ep.dist.version) if ep.dist is not None else ("unknown", "unknown")
            status, error = "not checked", ""
            if check:
                try:
                    ep.load()
                    status = "ok"
                except Exception as exc:  # noqa: BLE001 - a broken plugin is a row, not a crash
                    status, error = "broken", f"{type(exc).__name__}: {exc}"
            rows.append(PluginInfo(group.split(".", 1)[1], ep.name, dist, version, status, error))
    return rows


class Session:
    """The plugin manager of one run: selected drivers plus lifecycle plugins."""

    def __init__(self, load_hook_plugins: bool = True) -> None:
        self.pm = BrsPluginManager()
        self.drivers: dict[Role, Plugin] = {}
        self.names: dict[Role, str] = {}
        if load_hook_plugins:
            self._load_hook_plugins()

    def _load_hook_plugins(self) -> None:
        def on_failure(_manager: Any, entry_point: metadata.EntryPoint, error: BaseException) -> None:
            # A broken notification plugin must never stop backups; say so once and go on.
            origin = " ".join(distribution_of(HOOKS_GROUP, entry_point.name))
            log.warning("hook plugin %s (%s) failed to load: %s", entry_point.name, origin, error)

        import stevedore  # only sessions load hook plugins; listing and selection do not need it

        manager: stevedore.ExtensionManager[Any] = stevedore.ExtensionManager(
            namespace=HOOKS_GROUP, invoke_on_load=False, on_load_failure_callback=on_failure
        )
        for extension in manager:
            try:
                self.pm.register(extension.plugin, name=f"hooks:{extension.name}")
            except (ValueError, pluggy.PluginValidationError) as error:
                log.warning("hook plugin %s was not registered: %s", extension.name, error)

    def register_hook_plugin(self, plugin: Any, name: str) -> None:
        """Register an extra lifecycle plugin object (used by the sidecar and by tests)."""
        self.pm.register(plugin, name=name)

    def use(self, role: Role, name: str, driver: Plugin) -> Plugin:
        """Make ``driver`` the one implementation of ``role``'s operation hooks."""
        previous = self.drivers.pop(role, None)
        if previous is not None:
            self.pm.unregister(previous)
        self.pm.register(driver, name=f"{role.label}:{name}")
        self.drivers[role] = driver
        self.names[role] = name
        self._check_single_implementation(role)
        return driver

    def _check_single_implementation(self, role: Role) -> None:
        prefix = f"brs_{role.label}_"
        for hook_name in dir(self.pm.hook):
            if not hook_name.startswith(prefix):
                continue
            plain = [impl for impl in getattr(self.pm.hook, hook_name).get_hookimpls() if not (impl.wrapper or impl.hookwrapper)]
            if len(plain) > 1:
                owners = ", ".join(impl.plugin_name for impl in plain)
                raise PluginError(f"hook {hook_name} has several implementations ({owners}); other plugins may only wrap it")

    def call(self, role: Role, hook_name: str, **kwargs: Any) -> Any:
        """Call an operation hook; a bug escaping a driver is annotated with its origin."""
        if role not in self.drivers:
            raise PluginError(f"no {role.label} plugin selected")
        try:
            return getattr(self.pm.hook, hook_name)(**kwargs)
        except BrsError:
            raise
        except Exception as error:
            name = self.names[role]
            dist, version = distribution_of(role.value, name)
            error.add_note(f"raised by {role.label} plugin {name!r} ({dist} {version}) in {hook_name}")
            raise

    def notify(self, hook_name: str, **kwargs: Any) -> None:
        """Call a lifecycle hook on every plugin; a failing plugin is logged, never fatal."""
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            arguments = {name: kwargs[name] for name in impl.argnames if name in kwargs}
            try:
                impl.function(**arguments)
            except Exception:
                log.exception("plugin %s failed in %s", impl.plugin_name, hook_name)

    def drivers_in_use(self) -> Iterator[tuple[Role, str]]:
        yield from self.names.items()
