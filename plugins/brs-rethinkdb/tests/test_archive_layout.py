"""What a backup archive holds, given the dump tool's output, including outputs a real tool
gives only when something is wrong (no tarball at all).

These replace only the step that runs the tool (``run_tool``, and the readiness wait before it)
with one that writes a tarball shaped like the tool's output where the command says. The real
tool against a real server is in test_integration.py.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from brs.archive import ArchiveReader, ArchiveWriter
from brs.errors import DatabaseError
from brs_rethinkdb import plugin
from brs_rethinkdb.testing import driver, write_dump_tarball


def _dump_with(
    monkeypatch: pytest.MonkeyPatch, tables: dict[str, list[dict[str, Any]]] | None
) -> tuple[list[str], list[list[str]], dict[str, Any]]:
    commands: list[list[str]] = []

    def run_tool(command: list[str], what: str, timeout: float) -> str:
        commands.append(command)
        if tables is not None:
            write_dump_tarball(Path(command[command.index("--file") + 1]), tables)
        return ""

    monkeypatch.setattr(plugin, "run_tool", run_tool)
    monkeypatch.setattr(plugin, "wait_tables_ready", lambda *args: None)
    monkeypatch.setattr(plugin, "server_version", lambda *args: "2.4.4")
    buffer = io.BytesIO()
    writer = ArchiveWriter(buffer)
    driver({"rethinkdb_url": "db:28015"}).dump(writer)
    writer.close()
    buffer.seek(0)
    names, metadata = [], {}
    for entry in ArchiveReader(buffer):
        names.append(entry.name)
        if entry.name == "brs-rethinkdb.json":
            with entry.open() as source:
                metadata = json.load(source)
    return names, commands, metadata


def test_a_backup_is_the_metadata_then_the_dump_tarball(monkeypatch: pytest.MonkeyPatch) -> None:
    names, commands, metadata = _dump_with(monkeypatch, {"shop.items": [{"id": 1}]})
    assert names == ["brs-rethinkdb.json", "rethinkdb_dump.tar.gz"]
    assert metadata == {"format": 1, "version": "2.4.4", "tables": 1}
    assert commands[0][3] == "dump" and "db:28015" in commands[0]


def test_an_empty_database_still_gives_a_backup(monkeypatch: pytest.MonkeyPatch) -> None:
    names, _, metadata = _dump_with(monkeypatch, {})
    assert names == ["brs-rethinkdb.json", "rethinkdb_dump.tar.gz"]
    assert metadata["tables"] == 0


def test_a_tool_that_wrote_nothing_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DatabaseError, match=r"wrote no rethinkdb_dump\.tar\.gz"):
        _dump_with(monkeypatch, None)
