"""What a backup archive holds, given the dump tool's output, including outputs a real tool
gives only when something is wrong (no tarball at all).

These replace only the step that runs the tool (``run_tool``, and the readiness wait before it)
with one that writes a tarball shaped like the tool's output where the command says. The real
tool against a real server is in test_integration.py.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from rethink_helpers import write_dump_tarball

from brs.archive import ArchiveReader, ArchiveWriter
from brs.errors import DatabaseError
from brs.interfaces import PluginContext
from brs_rethinkdb import RethinkDB, plugin


def _dump_with(
    monkeypatch: pytest.MonkeyPatch, tables: dict[str, list[dict[str, Any]]] | None
) -> tuple[list[str], list[list[str]]]:
    commands: list[list[str]] = []

    def run_tool(command: list[str], what: str, timeout: float) -> str:
        commands.append(command)
        if tables is not None:
            write_dump_tarball(Path(command[command.index("--file") + 1]), tables)
        return ""

    monkeypatch.setattr(plugin, "run_tool", run_tool)
    monkeypatch.setattr(plugin, "wait_tables_ready", lambda *args: None)
    buffer = io.BytesIO()
    writer = ArchiveWriter(buffer)
    RethinkDB(PluginContext(name="rethinkdb", options={"rethinkdb_url": "db:28015"})).dump(writer)
    writer.close()
    buffer.seek(0)
    return [entry.name for entry in ArchiveReader(buffer)], commands


def test_a_backup_is_the_dump_tarball_as_one_member(monkeypatch: pytest.MonkeyPatch) -> None:
    names, commands = _dump_with(monkeypatch, {"shop.items": [{"id": 1}]})
    assert names == ["rethinkdb_dump.tar.gz"]
    assert commands[0][3] == "dump" and "db:28015" in commands[0]


def test_an_empty_database_still_gives_a_backup(monkeypatch: pytest.MonkeyPatch) -> None:
    names, _ = _dump_with(monkeypatch, {})
    assert names == ["rethinkdb_dump.tar.gz"]


def test_a_tool_that_wrote_nothing_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DatabaseError, match=r"wrote no rethinkdb_dump\.tar\.gz"):
        _dump_with(monkeypatch, None)
