"""Fixtures of the fault suite: small file systems that fill up or turn read-only."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# The fault tests share their helpers (faultkit) from this directory.


@pytest.fixture
def tmpfs() -> Iterator[Callable[..., Path]]:
    """Mount small tmpfs file systems (a full disk, a read-only or a volume-root data directory); all unmounted afterwards."""
    mounted: list[Path] = []

    def mount(path: Path, size: str = "8m") -> Path:
        path.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)], check=True)
        mounted.append(path)
        return path

    yield mount
    for path in reversed(mounted):
        subprocess.run(["umount", "-l", str(path)], check=False)
