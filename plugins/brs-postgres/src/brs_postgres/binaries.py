"""Copies of the server programs, kept next to the data directory for later major upgrades.

``pg_upgrade`` needs the programs of the *old* major version, which a new image no longer has.
So whenever brs sees the current programs (on each backup and each start), it keeps a copy in
``<store>/pg-bin-v<major>`` (the store defaults to the data directory's parent: on the same
volume, but outside PGDATA, so it is neither backed up nor touched by restores).

A copy must keep working from its new place. PostgreSQL finds its share and library
directories relative to its own location when the installation's layout is preserved, so the
bin, pkglib and share directories are copied with their paths relative to their common parent
(Debian: ``lib/postgresql/15/bin``, ``share/postgresql/15``; the PyPI builds: ``bin``,
``lib/postgresql``, ``share/postgresql``). Shared libraries that the programs load from outside
the system's library directories (the PyPI builds' bundled libpq, found through a relative
rpath) are copied into ``brs-libs`` and put on ``LD_LIBRARY_PATH`` when the copy runs.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from pathlib import Path

from brs import processes
from brs.errors import DatabaseError

from brs_postgres.tools import Toolset, parse_major

__all__ = ["SavedBinaries", "binaries_dir", "load_saved", "save_binaries"]

log = logging.getLogger("brs.database.postgres")

_INFO = "brs-binaries.json"
_LIBS = "brs-libs"


def binaries_dir(store: Path, major: int) -> Path:
    return store / f"pg-bin-v{major}"


class SavedBinaries:
    """A saved copy: its toolset and the version it reported when it was saved."""

    def __init__(self, root: Path, version: str, bindir: Path) -> None:
        self.root = root
        self.version = version
        libs = root / _LIBS
        self.tools = Toolset(bindir, library_path=libs if libs.is_dir() else None)


def load_saved(store: Path, major: int) -> SavedBinaries | None:
    """The saved programs of ``major``, or ``None`` when there are none."""
    root = binaries_dir(store, major)
    try:
        info = json.loads((root / _INFO).read_text())
        return SavedBinaries(root, str(info["version"]), root / str(info["bindir"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError) as error:
        raise DatabaseError(f"{root / _INFO} is unreadable ({error}); remove {root} and save the programs again") from None


def save_binaries(tools: Toolset, store: Path, *, force: bool = False) -> Path:
    """Copy the current programs to ``<store>/pg-bin-v<major>`` unless the same version is there.

    The copy is built under a temporary name and renamed into place, so an interrupted copy
    never looks complete.
    """
    version = tools.version()
    major = parse_major(version.split(" ", 1)[-1])
    destination = binaries_dir(store, major)
    existing = load_saved(store, major)
    if existing is not None and existing.version == version and not force:
        return destination
    bindir, pkglibdir, sharedir = (Path(tools.pg_config(flag)).resolve() for flag in ("--bindir", "--pkglibdir", "--sharedir"))
    base = Path(os.path.commonpath([bindir, pkglibdir, sharedir]))
    if base == Path(base.anchor):
        raise DatabaseError(f"cannot save the PostgreSQL programs of {bindir}: bin, lib and share have no common parent")
    partial = store / f".pg-bin-v{major}.brs-partial"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        store.mkdir(parents=True, exist_ok=True)
        for source in (bindir, pkglibdir, sharedir):
            shutil.copytree(source, partial / source.relative_to(base), symlinks=True, dirs_exist_ok=True)
        libraries = _private_libraries(bindir)
        if libraries:
            (partial / _LIBS).mkdir()
            for soname, library in libraries:
                shutil.copy2(library, partial / _LIBS / soname)
        (partial / _INFO).write_text(json.dumps({"version": version, "bindir": str(bindir.relative_to(base))}, indent=2) + "\n")
        if destination.exists():
            shutil.rmtree(destination)
        os.rename(partial, destination)
    except OSError as error:
        shutil.rmtree(partial, ignore_errors=True)
        raise DatabaseError(f"cannot save the PostgreSQL programs to {destination}: {error.strerror or error}") from None
    log.info("saved the programs of %s to %s for later upgrades", version, destination)
    return destination


def _system_library_dirs() -> set[str]:
    """Directories the dynamic loader searches by itself (from ``ldconfig -p``)."""
    dirs = {"/lib", "/lib64", "/usr/lib", "/usr/lib64"}
    ldconfig = shutil.which("ldconfig") or "/sbin/ldconfig"
    try:
        output = processes.run([ldconfig, "-p"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return dirs
    for line in output.splitlines():
        if "=>" in line:
            dirs.add(os.path.dirname(line.rsplit("=>", 1)[1].strip()))
    return {os.path.realpath(d) for d in dirs}


def _private_libraries(bindir: Path) -> list[tuple[str, Path]]:
    """Shared libraries the programs load from outside the system's library directories."""
    ldd = shutil.which("ldd")
    if ldd is None:
        log.warning("ldd is not installed: libraries bundled with %s are not saved with the programs", bindir)
        return []
    system = _system_library_dirs()
    found: dict[str, Path] = {}
    for program in sorted(bindir.iterdir()):
        if not program.is_file() or not os.access(program, os.X_OK):
            continue
        try:
            output = processes.run([ldd, str(program)], capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        for line in output.splitlines():
            if "=>" not in line:
                continue
            soname, _, rest = line.partition("=>")
            target = rest.strip().split(" (", 1)[0].strip()
            if not target.startswith("/"):
                continue
            real = Path(os.path.realpath(target))
            if str(real.parent) not in system:
                # Saved under the name the loader looks for (the soname), with the file's content.
                found.setdefault(soname.strip(), real)
    return sorted(found.items())
