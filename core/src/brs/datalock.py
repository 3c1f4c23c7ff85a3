"""One backup, restore or retention at a time per data directory, across every brs process.

The sidecar serialises its own operations in memory (:class:`brs.sidecar.lock.OperationLock`),
but a ``brs restore`` typed into the container is another process: both also take this lock,
an ``flock`` that every process sees on the same inode. A restore renames a plain data
directory, so its lock is a file next to it (``.<name>.brs-lock``). A volume root is never
renamed, so the directory itself is locked: nothing extra lies in it while no operation runs
(an engine's ``initdb`` wants it empty), and it works on a read-only volume too. The holder
writes its operation and pid down (into the lock file, or into ``.brs-lock`` inside a volume
root while it holds the lock), so the second caller is told who is busy. The kernel releases
the lock when the holder dies, so a killed process never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from brs.datadir import RESERVED_PREFIX, is_mount_point
from brs.errors import BusyError, LocalIOError

__all__ = ["DataDirLock", "lock_path"]

log = logging.getLogger("brs.lock")
_POLL = 0.2
_READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)


def lock_path(data_dir: Path) -> Path:
    """The file naming the holder: the lock file itself next to a plain directory, or a note inside a volume root."""
    if is_mount_point(data_dir):
        return data_dir / f"{RESERVED_PREFIX}lock"
    return data_dir.parent / f".{data_dir.name}{RESERVED_PREFIX}lock"


class DataDirLock:
    """The cross-process lock of one data directory; re-entrant within the thread that holds it."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._fd: int | None = None
        self._note: Path | None = None  # the holder's note inside a locked volume root
        self._depth = 0
        self._owner: int | None = None
        self._guard = threading.Lock()

    @contextmanager
    def hold(self, operation: str, *, wait: float = 0.0, writes: bool = True) -> Iterator[None]:
        """Hold the lock for ``operation``; :class:`BusyError` after ``wait`` seconds when another holds it.

        ``writes=False`` (a backup only reads the data directory) lets an operation go on
        without the lock when the lock file cannot be created on a read-only file system.
        """
        me = threading.get_ident()
        with self._guard:
            if self._depth and self._owner != me:
                raise BusyError(f"busy: another {operation} runs in this process on {self.data_dir}")
            nested = self._depth > 0
            self._depth += 1
            self._owner = me
        try:
            if not nested:
                self._acquire(operation, wait, writes)
            yield
        finally:
            with self._guard:
                self._depth -= 1
                if self._depth == 0:
                    self._owner = None
                    self._release()

    def _open(self, writes: bool) -> int | None:
        """A descriptor to lock: the volume root itself, or the lock file next to a plain directory."""
        if is_mount_point(self.data_dir):
            return os.open(self.data_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        path = lock_path(self.data_dir)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as error:
            if error.errno not in _READ_ONLY:
                raise LocalIOError(f"cannot open the lock file {path}: {error.strerror or error}") from error
            try:
                return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                if writes:
                    raise LocalIOError(f"cannot create the lock file {path}: {error.strerror or error}") from error
                log.debug("no lock file at %s on a read-only file system; reading without it", path)
                return None

    def _acquire(self, operation: str, wait: float, writes: bool) -> None:
        fd = self._open(writes)
        if fd is None:
            return
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise BusyError(
                        f"busy: {self._holder()} holds the data directory {self.data_dir}; "
                        "try again later (or wait for it with --lock-wait SECONDS)"
                    ) from None
                time.sleep(_POLL)
        self._fd = fd
        note = f"{operation} {os.getpid()} {int(time.time())}\n".encode()
        # A read-only volume still locks; the holder is just not named.
        with contextlib.suppress(OSError):
            if is_mount_point(self.data_dir):
                self._note = lock_path(self.data_dir)
                self._note.write_bytes(note)
            else:
                os.ftruncate(fd, 0)
                os.pwrite(fd, note, 0)

    def _release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):  # nobody holds it any more
            if self._note is not None:
                self._note.unlink(missing_ok=True)
            else:
                os.ftruncate(self._fd, 0)
        self._note = None
        os.close(self._fd)  # closing releases the flock
        self._fd = None

    def _holder(self) -> str:
        """``a backup (pid 123, running for 4s)`` from the holder's note, or a generic phrase."""
        try:
            operation, pid, since = lock_path(self.data_dir).read_text().split()
            return f"a {operation} (pid {pid}, running for {max(0, int(time.time()) - int(since))}s)"
        except (OSError, ValueError, UnicodeDecodeError):
            return "another brs process"
