"""Housekeeping inside a staging directory: emptying it after a failure, fixing owners.

Database plugins that build a data directory with a temporary server of their own use these
on the target core hands them (see :mod:`brs.datadir`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

__all__ = ["clear_directory", "match_owner"]


def clear_directory(path: Path) -> None:
    """Remove everything inside ``path`` (kept itself: it belongs to the caller, e.g. core's staging directory)."""
    try:
        entries = list(os.scandir(path))
    except FileNotFoundError:
        return
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


def match_owner(target: Path) -> None:
    """Give everything below ``target`` the owner of ``target`` itself.

    The temporary server runs as brs's user (often root in a sidecar), but the database
    container may run as another one; core created ``target`` with the data directory's owner.
    """
    if os.geteuid() != 0:
        return
    info = target.stat()
    for root, directories, files in os.walk(target):
        for name in directories + files:
            path = os.path.join(root, name)
            stat = os.lstat(path)
            if (stat.st_uid, stat.st_gid) != (info.st_uid, info.st_gid):
                os.lchown(path, info.st_uid, info.st_gid)
