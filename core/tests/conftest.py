"""Fixtures for core's own tests: in-process engines over real local storage."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from brs.crypto import Keyring
from brs.engine import Engine, Settings
from brs.interfaces import PluginContext, Role
from brs.plugins import Session, driver_class


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
        options = {"local_provider_backup_path": str(store)}
        settings = Settings(
            db="localfs",
            data_dir=data_dir,
            object_prefix=prefix,
            object_max_keep=max_keep,
            compression_method=compression,
            keyring=keyring if keyring is not None else Keyring(),
            plugin_options=options,
        )
        session = Session(load_hook_plugins=False)
        for role, name in ((Role.DATABASE, "localfs"), (Role.STORAGE, "local"), (Role.COMPRESSION, compression)):
            context = PluginContext(
                name=name, options=options, data_dir=data_dir, object_prefix=prefix, log=logging.getLogger(name)
            )
            session.use(role, name, driver_class(role, name)(context))
        session.call(Role.STORAGE, "brs_storage_ensure")
        return Engine(session, settings)

    return make
