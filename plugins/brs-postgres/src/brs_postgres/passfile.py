"""The password of libpq's child programs, handed over as a password file that only exists in memory.

``PGPASSWORD`` would sit in the child's environment, readable in ``/proc/<pid>/environ`` and
passed on to whatever the child starts; a command line is visible to every user. libpq also
reads a password file (``PGPASSFILE``), and here that file is anonymous memory
(``memfd_create``) which the child inherits as a descriptor and opens as ``/dev/fd/<n>``:
nothing reaches a disk, and the file is gone once the last descriptor closes. libpq accepts
it because it is a regular file without group or world access (mode 0600, set before the
password is written).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from brs.errors import ConfigError

__all__ = ["Client", "password_file"]


@dataclass(frozen=True)
class Client:
    """What a libpq program needs to reach the server: its variables and the descriptors to inherit."""

    env: dict[str, str]
    pass_fds: tuple[int, ...] = ()


def _entry(password: str) -> bytes:
    """A passfile line matching any host, port, database and user (``:`` and ``\\`` escaped)."""
    if "\n" in password or "\r" in password:
        raise ConfigError("--postgres-password cannot contain a line break (libpq's password file holds one line per entry)")
    escaped = password.replace("\\", "\\\\").replace(":", "\\:")
    return f"*:*:*:*:{escaped}\n".encode()


@contextmanager
def password_file(password: str) -> Iterator[int]:
    """Yield the descriptor of an in-memory passfile holding ``password``; a child started
    meanwhile inherits it and finds the file as ``/dev/fd/<descriptor>``."""
    entry = _entry(password)
    descriptor = os.memfd_create("brs-pgpass", os.MFD_CLOEXEC)
    try:
        os.fchmod(descriptor, 0o600)
        os.write(descriptor, entry)
        yield descriptor
    finally:
        os.close(descriptor)
