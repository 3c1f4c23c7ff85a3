"""Which database a backup belongs to, so that databases sharing a prefix never mix.

A StatefulSet scaled past one pod with a shared configuration puts ``db-0`` and ``db-1`` on one
prefix. Each backup records an :class:`~brs.manifest.Identity`: the pod or host name, and what
the database plugin can tell about the data itself (``identity``, e.g. the
PostgreSQL system identifier). A backup is *ours* when the host names match, or when both sides
know a database identity and they match. The host name is what decides for a restore into an
empty volume (an empty data directory has no database identity): pod ``db-0`` finds its own
backups after losing its volume, ``db-1`` does not take them.
"""

from __future__ import annotations

import os

from brs.manifest import Identity

__all__ = ["host_name", "same_database"]


def host_name() -> str:
    """``BRS_POD_NAME`` (set it from the pod's name, or to any stable name), else ``HOSTNAME``,
    else the kernel's host name."""
    for variable in ("BRS_POD_NAME", "HOSTNAME"):
        value = os.environ.get(variable, "").strip()
        if value:
            return value[:255]
    return os.uname().nodename[:255] or "unknown"  # gethostname() without importing socket


def same_database(ours: Identity, theirs: Identity | None) -> bool:
    """Whether a backup recorded as ``theirs`` belongs to the database ``ours``.

    A backup without an identity (manifest format 1, written before identities existed) is
    taken as ours: nothing says otherwise.
    """
    if theirs is None or theirs.host == ours.host:
        return True
    return ours.database is not None and theirs.database == ours.database
