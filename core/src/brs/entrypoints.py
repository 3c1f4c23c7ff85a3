"""The installed distributions' entry points, read straight from their ``*.dist-info`` folders.

This is what :func:`importlib.metadata.entry_points` answers, restricted to what brs needs
(group, name, object reference, distribution name and version). It is written out here because
importing :mod:`importlib.metadata` on Python 3.11 costs about 60 ms (it pulls in the email
parser, zipfile and csv) out of a start-up budget of 150 ms for ``--help`` and 300 ms for a
listing; reading a few small text files costs under 5 ms. The format is the packaging
standard's: ``entry_points.txt`` is an INI file of ``[group]`` sections with ``name = value``
lines, and the ``Name:``/``Version:`` headers open ``METADATA`` (``PKG-INFO`` in the
``*.egg-info`` folders of older editable installs). Like importlib.metadata, the first
distribution of a name on ``sys.path`` wins. Only distributions that have an
``entry_points.txt`` are read further: an image holds dozens of libraries that have none.
"""

from __future__ import annotations

import functools
import importlib
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["EntryPoint", "entry_points", "version_of"]

_SUFFIXES = (".dist-info", ".egg-info")


@dataclass(frozen=True)
class EntryPoint:
    """One entry point: ``name = module:attribute`` in ``group``, provided by ``dist`` ``version``."""

    group: str
    name: str
    value: str
    dist: str
    version: str

    def load(self) -> Any:
        """Import the module and return the object the entry point names."""
        module, _, attribute = self.value.partition(":")
        found: Any = importlib.import_module(module.strip())
        for part in attribute.split("[", 1)[0].strip().split(".") if attribute.strip() else ():
            found = getattr(found, part)
        return found


@dataclass
class _Distribution:
    key: str  #: the canonical name, from the folder's name
    folder: Path
    entry_points: str  #: the text of its entry_points.txt ("" when it has none)

    @functools.cached_property
    def headers(self) -> dict[str, str]:
        return _headers(self.folder)

    @property
    def name(self) -> str:
        return self.headers.get("Name") or self.key

    @property
    def version(self) -> str:
        return self.headers.get("Version", "unknown")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _headers(folder: Path) -> dict[str, str]:
    """The ``Name`` and ``Version`` headers of a distribution's metadata file."""
    headers: dict[str, str] = {}
    for filename in ("METADATA", "PKG-INFO"):
        try:
            with open(folder / filename, encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    if not line.strip():
                        break  # the headers end at the first empty line
                    key, sep, value = line.partition(":")
                    if sep and key in ("Name", "Version") and key not in headers:
                        headers[key] = value.strip()
        except OSError:
            continue
        break
    return headers


@functools.cache
def _distributions() -> tuple[_Distribution, ...]:
    found: dict[str, _Distribution] = {}
    for entry in sys.path:
        try:
            names = sorted(os.listdir(entry or "."))
        except OSError:
            continue
        for folder_name in names:
            if not folder_name.endswith(_SUFFIXES):
                continue
            folder = Path(entry or ".") / folder_name
            key = _canonical(folder_name.rsplit(".", 1)[0].split("-", 1)[0])
            if key in found:
                continue
            try:
                text = (folder / "entry_points.txt").read_text(encoding="utf-8", errors="replace")
            except OSError:
                text = ""
            found[key] = _Distribution(key, folder, text)
    return tuple(found.values())


def _parse(text: str) -> list[tuple[str, str, str]]:
    """``(group, name, value)`` of an ``entry_points.txt`` (INI: ``[group]`` and ``name = value``)."""
    parsed, group = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            group = line[1:-1].strip()
        elif group and "=" in line:
            name, _, value = line.partition("=")
            parsed.append((group, name.strip(), value.strip()))
    return parsed


@functools.cache
def entry_points() -> tuple[EntryPoint, ...]:
    """Every entry point of every installed distribution, read once per process."""
    return tuple(
        EntryPoint(group, name, value, dist.name, dist.version)
        for dist in _distributions()
        for group, name, value in _parse(dist.entry_points)
    )


def version_of(distribution: str) -> str | None:
    """The installed version of ``distribution``, or None."""
    wanted = _canonical(distribution)
    return next((dist.version for dist in _distributions() if dist.key == wanted), None)
