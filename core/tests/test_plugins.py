"""Finding and wiring plugins: selection by name, options seen only by their owner, pluggy's hook rules."""

from __future__ import annotations

import json
import logging
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pluggy
import pytest

from brs import hookspecs
from brs.assembly import storage
from brs.builtins.local_storage import LocalStorage
from brs.errors import PluginError
from brs.hookspecs import hookimpl
from brs.interfaces import Role, StoredObject
from brs.lifecycle import Lifecycle
from brs.plugins import driver_class, installed_names, list_plugins
from brs.testing import assert_one_line_error, run_brs


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


# -- options reach only their owner ---------------------------------------------------------------
_SPY = '''
"""A database plugin that writes down everything brs hands it."""
import json
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from brs.interfaces import Database, DataDirState, DataDirStatus
from brs.options import PluginOptions, option


@dataclass(frozen=True)
class SpyOptions(PluginOptions):
    prefix: ClassVar[str] = "spy"
    report: Path = option(None, "Where to write what the plugin saw.")


class Spy(Database[SpyOptions]):
    Options = SpyOptions
    has_server = False

    def check(self, data_dir):
        return DataDirState(DataDirStatus.HEALTHY)

    def dump(self, archive):
        seen = {
            "context": repr(self.context),
            "settings": repr(self.settings),
            "attributes": repr(vars(self)),
            "context_fields": sorted(vars(self.context)),
            "other_option": getattr(self.settings, "local_provider_backup_path", None),
        }
        self.settings.report.write_text(json.dumps(seen))
        archive.add_bytes("spy/seen", b"x")

    def restore(self, archive, target):
        archive.extract_all(target)
'''


@pytest.fixture
def spy_plugin(tmp_path: Path) -> dict[str, str]:
    """A third-party database plugin ``spy``, installed through a dist-info on PYTHONPATH."""
    site = tmp_path / "site"
    (site / "brs_spy-0.1.dist-info").mkdir(parents=True)
    (site / "brs_spy.py").write_text(textwrap.dedent(_SPY))
    (site / "brs_spy-0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: brs-spy\nVersion: 0.1\n")
    (site / "brs_spy-0.1.dist-info" / "entry_points.txt").write_text("[brs.database]\nspy = brs_spy:Spy\n")
    return {"PYTHONPATH": str(site)}


def test_a_plugin_sees_only_its_own_options_never_another_plugins_or_the_key(tmp_path: Path, spy_plugin: dict[str, str]) -> None:
    key = "K" * 16 + "secret-key-0123x"
    key_file = tmp_path / "key"
    key_file.write_text(key)
    store = tmp_path / "store-path-of-the-local-plugin"
    report = tmp_path / "report.json"
    (tmp_path / "data").mkdir()
    result = run_brs(
        "backup",
        "--db", "spy",
        "--db-data-directory", str(tmp_path / "data"),
        "--local-provider-backup-path", str(store),
        "--encryption-key-file", str(key_file),
        "--spy-report", str(report),
        env=spy_plugin,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    seen = json.loads(report.read_text())
    everything = json.dumps(seen)
    assert str(report) in seen["settings"]  # its own option arrived
    assert key not in everything and str(key_file) not in everything
    assert str(store) not in everything and seen["other_option"] is None
    assert seen["context_fields"] == ["data_dir", "log", "name", "object_prefix", "settings"]
    assert list(store.rglob("*.manifest.json")), "the backup itself was stored"


def test_a_secret_is_never_in_the_options_repr() -> None:
    from brs.options import PluginOptions, secret
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class WithSecret(PluginOptions):
        token: str | None = secret("An API token.")

    options = WithSecret.from_values({"token": "hunter2-token"})
    assert options.token == "hunter2-token"
    assert "hunter2" not in repr(options) and options.describe() == {"token": "(set)"}


# -- lifecycle hooks follow pluggy ---------------------------------------------------------------
def _ordered_plugins(calls: list[str]) -> list[tuple[str, Any]]:
    """Plugins that record their name when brs_backup_started runs; one of each kind pluggy orders."""

    def plain(name: str, **opts: Any) -> Any:
        @hookimpl(**opts)
        def brs_backup_started(backup_id: str, db: str) -> None:
            calls.append(name)

        return SimpleNamespace(brs_backup_started=brs_backup_started)

    @hookimpl(wrapper=True)
    def wrapping(backup_id: str, db: str) -> Iterator[None]:
        calls.append("wrapper-before")
        result = yield
        calls.append("wrapper-after")
        return result

    return [
        ("first-registered", plain("first-registered")),
        ("last", plain("last", trylast=True)),
        ("first", plain("first", tryfirst=True)),
        ("wrapper", SimpleNamespace(brs_backup_started=wrapping)),
        ("second-registered", plain("second-registered")),
    ]


def test_lifecycle_hooks_run_in_pluggys_own_order_with_wrappers() -> None:
    ours: list[str] = []
    lifecycle = Lifecycle()
    for name, plugin in _ordered_plugins(ours):
        lifecycle.register(plugin, name)
    lifecycle.notify("brs_backup_started", backup_id="b1", db="localfs")

    pluggys: list[str] = []
    reference = pluggy.PluginManager(hookspecs.PROJECT)
    reference.add_hookspecs(hookspecs.LifecycleSpecs)
    for name, plugin in _ordered_plugins(pluggys):
        reference.register(plugin, name)
    reference.hook.brs_backup_started(backup_id="b1", db="localfs")

    assert ours == pluggys
    assert ours[0] == "wrapper-before" and ours[-1] == "wrapper-after"
    assert ours.index("first") < ours.index("second-registered") < ours.index("first-registered") < ours.index("last")


def test_a_failing_lifecycle_plugin_is_logged_and_the_others_still_run(caplog: pytest.LogCaptureFixture) -> None:
    lifecycle = Lifecycle()
    calls: list[str] = []

    class Broken:
        def brs_backup_started(self, backup_id: str) -> None:
            raise RuntimeError("webhook down")

    class Counter:
        @hookimpl(trylast=True)
        def brs_backup_started(self, backup_id: str, db: str) -> None:
            calls.append(f"{db}:{backup_id}")

    lifecycle.register(Counter(), "counter")
    lifecycle.register(Broken(), "broken")
    with caplog.at_level(logging.ERROR):
        lifecycle.notify("brs_backup_started", backup_id="b1", db="localfs")
    assert calls == ["localfs:b1"]
    assert "webhook down" in caplog.text and "broken" in caplog.text


def test_a_misspelled_hook_is_refused_at_load_in_one_line() -> None:
    class Typo:
        def brs_backup_startd(self, backup_id: str) -> None:  # one letter missing
            raise AssertionError("never called")

    lifecycle = Lifecycle()
    with pytest.raises(PluginError) as caught:
        lifecycle.register(Typo(), "hooks:typo")
    message = str(caught.value)
    assert "\n" not in message
    assert "hooks:typo" in message and "brs_backup_startd" in message and "did you mean brs_backup_started" in message


def test_a_misspelled_hook_of_an_installed_plugin_stops_the_command(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "brs_typo-0.1.dist-info").mkdir(parents=True)
    (site / "brs_typo.py").write_text("def brs_restore_suceeded(manifest, duration):\n    pass\n")
    (site / "brs_typo-0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: brs-typo\nVersion: 0.1\n")
    (site / "brs_typo-0.1.dist-info" / "entry_points.txt").write_text("[brs.hooks]\ntypo = brs_typo\n")
    (tmp_path / "data").mkdir()
    result = run_brs(
        "backup", "--db", "localfs", "--db-data-directory", str(tmp_path / "data"),
        "--local-provider-backup-path", str(tmp_path / "store"),
        env={"PYTHONPATH": str(site)},
    )  # fmt: skip
    assert_one_line_error(result, "brs_restore_suceeded")
    assert "did you mean brs_restore_succeeded" in result.stderr
    assert not (tmp_path / "store").exists() or not list((tmp_path / "store").rglob("*.manifest.json"))


# -- drivers are called directly; their bugs name them -----------------------------------------
class _BuggyStorage(LocalStorage):
    def list(self) -> Sequence[StoredObject]:
        return [1 / 0]  # type: ignore[list-item]  # a driver bug


def test_a_bug_in_a_driver_is_annotated_with_its_origin(tmp_path: Path) -> None:
    local = storage("local", {"local_provider_backup_path": str(tmp_path)})
    buggy = _BuggyStorage(local.context)
    with pytest.raises(ZeroDivisionError) as caught:
        buggy.list()
    assert any(
        note.startswith("raised by storage plugin 'local' (brs ") and note.endswith(" in list") for note in caught.value.__notes__
    )
