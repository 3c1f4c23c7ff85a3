# Hookspecs are signatures with documentation; their bodies are empty on purpose.
# mypy: disable-error-code="empty-body"
"""The lifecycle hooks: what brs tells every plugin in the ``brs.hooks`` entry-point group.

Drivers (database, storage, compression) are not hooks: there is one per role and the engine
calls its methods directly (:mod:`brs.interfaces`). Hooks are for what is one-to-many, such as
metrics, notifications and audit logs about backups and restores.

They follow pluggy's rules exactly, as pytest's hooks do: implementations run newest-registered
first, ``tryfirst``/``trylast`` move them, and ``@hookimpl(wrapper=True)`` wraps the others
(write ``yield`` and get their result). Functions named ``brs_*`` in a hook plugin are hook
implementations without a decorator; a name that matches no hook below is refused when the
plugin is loaded, so a misspelled hook never goes unnoticed. An exception raised by a plain
implementation is logged and changes neither the other implementations nor the outcome of the
backup or restore.

Hook implementations may accept fewer arguments than the spec lists; new arguments may be added
to a spec in a later minor version without breaking plugins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from brs.manifest import Manifest

__all__ = ["PROJECT", "LifecycleSpecs", "hookimpl", "hookspec"]

PROJECT = "brs"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ---------------------------------------------------------------------------------------------
# Lifecycle notifications (1:N, for metrics, notifications, audit)
# ---------------------------------------------------------------------------------------------
class LifecycleSpecs:
    @hookspec
    def brs_backup_started(self, backup_id: str, db: str) -> None:
        """A backup began. Called before the database dump starts."""

    @hookspec
    def brs_backup_succeeded(self, manifest: Manifest, duration: float) -> None:
        """A backup was stored and its manifest written; it is now listed and restorable.

        :param manifest: the committed manifest (sizes, checksum, versions).
        :param duration: wall time of the whole backup in seconds.
        """

    @hookspec
    def brs_backup_failed(self, backup_id: str, stage: str, error: BaseException) -> None:
        """A backup failed; nothing was listed.

        :param stage: where it failed: ``dump``, ``compress``, ``encrypt``, ``upload``,
            ``manifest`` or ``retention`` (the last one after the backup itself succeeded).
        """

    @hookspec
    def brs_restore_started(self, manifest: Manifest) -> None:
        """A restore of the backup described by ``manifest`` began."""

    @hookspec
    def brs_restore_succeeded(self, manifest: Manifest, duration: float) -> None:
        """The restored data directory was verified and swapped into place."""

    @hookspec
    def brs_restore_failed(self, manifest: Manifest, error: BaseException) -> None:
        """A restore failed; the data directory was left as it was."""
