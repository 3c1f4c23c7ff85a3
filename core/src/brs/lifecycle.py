"""The lifecycle hooks of one run: plugins of the ``brs.hooks`` group, called as pluggy calls them.

:mod:`brs.hookspecs` documents the hooks. This module loads their implementations, refuses a
misspelled hook name at load (pluggy's ``check_pending``), and keeps one failing notification
plugin from stopping the others or the backup: each plain implementation is wrapped so that its
exception is logged, while pluggy's own order and wrappers stay exactly as pluggy defines them.
"""

from __future__ import annotations

import difflib
import functools
import logging
from typing import TYPE_CHECKING, Any

from brs.errors import PluginError

if TYPE_CHECKING:
    from importlib import metadata

    import pluggy

__all__ = ["HOOKS_GROUP", "Lifecycle"]

HOOKS_GROUP = "brs.hooks"
log = logging.getLogger("brs.lifecycle")


def _new_manager() -> pluggy.PluginManager:
    """pluggy's manager, with pytest's naming rule: a ``brs_*`` function is an implementation."""
    import pluggy

    from brs import hookspecs

    class Manager(pluggy.PluginManager):
        def parse_hookimpl_opts(self, plugin: Any, name: str) -> Any:
            opts = super().parse_hookimpl_opts(plugin, name)
            if opts is None and name.startswith("brs_") and callable(getattr(plugin, name, None)):
                return {}
            return opts

    manager = Manager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs.LifecycleSpecs)
    return manager


def _isolated(function: Any, plugin_name: str, hook_name: str) -> Any:
    @functools.wraps(function)
    def call(*args: Any) -> Any:
        try:
            return function(*args)
        except Exception:
            log.exception("plugin %s failed in %s", plugin_name, hook_name)
            return None

    return call


class Lifecycle:
    """Registered lifecycle plugins and the way to notify them.

    pluggy is imported when the first plugin registers: a run without hook plugins (a listing,
    most one-shot commands) never needs it.
    """

    def __init__(self) -> None:
        self._manager: pluggy.PluginManager | None = None

    @property
    def pm(self) -> pluggy.PluginManager:
        if self._manager is None:
            self._manager = _new_manager()
        return self._manager

    def register(self, plugin: Any, name: str) -> None:
        """Register a plugin object or module; a ``brs_*`` name that is no hook is refused.

        :raises PluginError: one line naming the plugin, the unknown hook and the closest hook.
        """
        import pluggy

        try:
            self.pm.register(plugin, name=name)
            self.pm.check_pending()
        except pluggy.PluginValidationError as error:
            self.pm.unregister(name=name)
            raise PluginError(f"hook plugin {name}: {_first_line(error)}{_hint(str(error))}") from None
        except ValueError as error:
            raise PluginError(f"hook plugin {name} is not registered: {error}") from None
        for hook_caller in self.pm.get_hookcallers(plugin) or ():
            for impl in hook_caller.get_hookimpls():
                if impl.plugin is plugin and not (impl.wrapper or impl.hookwrapper):
                    # Wrapping the implementation itself keeps pluggy's ordering and wrappers intact;
                    # pluggy marks the attribute Final but reads it on every call.
                    impl.function = _isolated(impl.function, name, hook_caller.name)  # type: ignore[misc]

    def load_entry_points(self) -> None:
        """Register every plugin of the ``brs.hooks`` entry-point group.

        One that fails to import is reported and left out (a notification plugin must never stop
        backups); one that implements a hook that does not exist is refused with an error.
        """
        from brs.plugins import has_entry_points

        if not has_entry_points(HOOKS_GROUP):
            return  # nothing to load: spare every command the import of stevedore
        import stevedore

        def on_failure(_manager: Any, entry_point: metadata.EntryPoint, error: BaseException) -> None:
            from brs.plugins import distribution_of

            origin = " ".join(distribution_of(HOOKS_GROUP, entry_point.name))
            log.warning("hook plugin %s (%s) failed to load: %s", entry_point.name, origin, error)

        manager: stevedore.ExtensionManager[Any] = stevedore.ExtensionManager(
            namespace=HOOKS_GROUP, invoke_on_load=False, on_load_failure_callback=on_failure
        )
        for extension in manager:
            self.register(extension.plugin, name=f"hooks:{extension.name}")

    def notify(self, hook_name: str, **kwargs: Any) -> None:
        """Call a lifecycle hook in pluggy's order; no plugin's failure reaches the caller."""
        if self._manager is None:
            return  # no plugin registered: nobody to tell
        try:
            getattr(self.pm.hook, hook_name)(**kwargs)
        except Exception:  # a failing wrapper
            log.exception("a hook wrapper failed in %s", hook_name)


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _hint(message: str) -> str:
    """``; did you mean brs_backup_started?`` for a message that names an unknown ``brs_*`` hook."""
    from brs import hookspecs

    known = [name for name in dir(hookspecs.LifecycleSpecs) if name.startswith("brs_")]
    for word in message.replace("'", " ").replace('"', " ").split():
        if word.startswith("brs_") and word not in known:
            close = difflib.get_close_matches(word, known, n=1)
            if close:
                return f"; did you mean {close[0]}?"
    return ""
