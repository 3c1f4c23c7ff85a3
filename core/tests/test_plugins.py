"""Finding and wiring plugins: selection by name, isolation of failures, one implementation per hook."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from brs.errors import PluginError
from brs.hookspecs import hookimpl
from brs.interfaces import PluginContext, Role
from brs.plugins import Session, driver_class, installed_names, list_plugins


def test_builtins_register_through_entry_points() -> None:
    assert {"tar", "targz", "tarlz4", "tarzst"} <= set(installed_names(Role.COMPRESSION))
    assert "local" in installed_names(Role.STORAGE)
    assert "localfs" in installed_names(Role.DATABASE)


def test_an_unknown_name_is_one_line_listing_what_is_installed() -> None:
    with pytest.raises(PluginError) as caught:
        driver_class(Role.DATABASE, "oracle")
    message = str(caught.value)
    assert "no database plugin named 'oracle'" in message and "localfs" in message and "\n" not in message


def test_listing_reports_distribution_version_and_status() -> None:
    rows = {(r.role, r.name): r for r in list_plugins(check=True)}
    assert rows[("compression", "tarzst")].distribution == "brs"
    assert rows[("database", "localfs")].distribution == "brs-localfs"
    assert all(r.status == "ok" for r in rows.values() if r.distribution in ("brs", "brs-localfs"))


def _local(tmp_path: Path) -> Any:
    cls = driver_class(Role.STORAGE, "local")
    return cls(PluginContext(name="local", options={"local_provider_backup_path": str(tmp_path)}))


def test_a_second_plain_implementation_of_an_operation_hook_is_refused(tmp_path: Path) -> None:
    session = Session(load_hook_plugins=False)
    session.use(Role.STORAGE, "local", _local(tmp_path))

    class Intruder:
        @hookimpl
        def brs_storage_list(self) -> list[Any]:
            return []

    session.register_hook_plugin(Intruder(), "intruder")
    with pytest.raises(PluginError, match="several implementations"):
        session.use(Role.STORAGE, "local", _local(tmp_path))


def test_wrappers_may_observe_operation_hooks(tmp_path: Path) -> None:
    session = Session(load_hook_plugins=False)
    seen: list[str] = []

    class Observer:
        @hookimpl(wrapper=True)
        def brs_storage_list(self) -> Any:
            seen.append("before")
            result = yield
            seen.append(f"after {len(result)}")
            return result

    session.register_hook_plugin(Observer(), "observer")
    session.use(Role.STORAGE, "local", _local(tmp_path))
    assert session.call(Role.STORAGE, "brs_storage_list") == []
    assert seen == ["before", "after 0"]


def test_a_failing_lifecycle_plugin_is_logged_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    session = Session(load_hook_plugins=False)
    calls: list[str] = []

    class Broken:
        @hookimpl
        def brs_backup_started(self, backup_id: str) -> None:
            raise RuntimeError("webhook down")

    class Counter:
        @hookimpl
        def brs_backup_started(self, backup_id: str, db: str) -> None:
            calls.append(f"{db}:{backup_id}")

    session.register_hook_plugin(Broken(), "broken")
    session.register_hook_plugin(Counter(), "counter")
    with caplog.at_level(logging.ERROR):
        session.notify("brs_backup_started", backup_id="b1", db="localfs")
    assert calls == ["localfs:b1"]
    assert "webhook down" in caplog.text


def test_a_bug_in_a_driver_is_annotated_with_its_origin(tmp_path: Path) -> None:
    session = Session(load_hook_plugins=False)
    storage = _local(tmp_path)
    storage.brs_storage_list = lambda: 1 / 0  # a driver bug
    session.use(Role.STORAGE, "local", storage)
    with pytest.raises(ZeroDivisionError) as caught:
        session.call(Role.STORAGE, "brs_storage_list")
    assert any("storage plugin 'local' (brs" in note for note in caught.value.__notes__)
