"""The object-name rule every storage plugin enforces, and object keys below a prefix.

brs names its objects itself (``<backup id>.tar.zst.age``, ``<backup id>.manifest.json``), so a
name that is not one plain path component comes from a bug or a hostile listing: refusing it
keeps every read, write and delete inside the configured folder.
"""

from __future__ import annotations

from dataclasses import dataclass

from brs.errors import StorageError

__all__ = ["ObjectKeys", "check_object_name"]


def check_object_name(name: str) -> str:
    """``name`` if it is one path component that is not hidden; else a :class:`StorageError`.

    Refused: the empty name, names with ``/`` or ``\\``, and names starting with ``.`` (which
    also covers ``.`` and ``..``; brs's temporary and lock files start with a dot).
    """
    if not name or name.startswith(".") or "/" in name or "\\" in name:
        raise StorageError(f"invalid object name {name!r}")
    return name


@dataclass(frozen=True)
class ObjectKeys:
    """Object keys in a flat bucket namespace, below ``--object-prefix``.

    The prefix is a folder: objects of prefix ``db`` are ``db/<name>``, so they never mix with
    those of ``db-2`` (a plain string prefix would list both).
    """

    #: ``"team/db/"`` for the prefix ``team/db``, ``""`` for none.
    folder: str

    @classmethod
    def below(cls, object_prefix: str) -> ObjectKeys:
        prefix = object_prefix.strip("/")
        return cls(f"{prefix}/" if prefix else "")

    def key(self, name: str) -> str:
        """The key of object ``name`` (checked by :func:`check_object_name`)."""
        return self.folder + check_object_name(name)

    def name(self, key: str) -> str | None:
        """The object name of a listed ``key``, or None when it is not directly in the folder.

        The folder's own key (``team/db/``, a marker some consoles create) and deeper keys
        (``team/db/nested/x``) are no objects of this prefix.
        """
        if not key.startswith(self.folder):
            return None
        name = key[len(self.folder) :]
        return name if name and "/" not in name else None
