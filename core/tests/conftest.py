"""Fixtures for core's own tests: in-process engines over real local storage."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from brs.assembly import assemble
from brs.crypto import Keyring
from brs.engine import Engine, Settings


@pytest.fixture
def make_engine(tmp_path: Path) -> Callable[..., Engine]:
    """Build an engine with localfs + local storage, as the CLI would, without a subprocess."""

    def make(
        data_dir: Path | None = None,
        compression: str = "tarzst",
        keyring: Keyring | None = None,
        max_keep: int = 20,
        store: Path | None = None,
        prefix: str = "",
    ) -> Engine:
        data_dir = data_dir or tmp_path / "data"
        store = store or tmp_path / "store"
        settings = Settings(
            db="localfs",
            data_dir=data_dir,
            object_prefix=prefix,
            object_max_keep=max_keep,
            compression_method=compression,
            keyring=keyring if keyring is not None else Keyring(),
        )
        engine = assemble(settings, {"local_provider_backup_path": str(store)}, load_hooks=False)
        engine.ensure_storage()
        return engine

    return make
