"""brs.kit.metadata: the metadata member goes into a real archive and comes back checked."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from brs.archive import ArchiveReader, ArchiveWriter
from brs.errors import ArchiveError, BrsError, DatabaseError
from brs.kit.metadata import LIMIT, MetadataMember

MEMBER = MetadataMember("brs-example.json", format=2, plugin="brs-example")


def archive_of(*members: tuple[str, bytes]) -> ArchiveReader:
    sink = io.BytesIO()
    writer = ArchiveWriter(sink)
    for name, data in members:
        writer.add_bytes(name, data)
    writer.close()
    return ArchiveReader(io.BytesIO(sink.getvalue()))


def read_back(data: bytes) -> dict[str, object]:
    for entry in archive_of((MEMBER.name, data)):
        with entry.open() as source:
            return MEMBER.read(source)
    raise AssertionError("the archive is empty")


def test_written_first_and_read_back_with_its_format() -> None:
    sink = io.BytesIO()
    writer = ArchiveWriter(sink)
    written = MEMBER.write(writer, {"version": "1.21.0", "tables": ["a", "b"]})
    writer.add_bytes("data", b"payload")
    writer.close()
    entries = iter(ArchiveReader(io.BytesIO(sink.getvalue())))
    first = next(entries)
    assert first.name == "brs-example.json"
    assert first.info.mode == 0o600
    with first.open() as source:
        assert MEMBER.read(source) == written == {"format": 2, "version": "1.21.0", "tables": ["a", "b"]}
    assert next(entries).name == "data"


def test_older_formats_are_read() -> None:
    assert read_back(b'{"format": 1, "version": "x"}') == {"format": 1, "version": "x"}


def test_the_caller_cannot_set_the_format() -> None:
    with pytest.raises(ValueError, match="format"):
        MEMBER.write(ArchiveWriter(io.BytesIO()), {"format": 9})


def test_a_newer_format_is_refused_in_one_line() -> None:
    with pytest.raises(DatabaseError) as caught:
        read_back(json.dumps({"format": 3}).encode())
    assert str(caught.value) == (
        "the backup's brs-example.json has format 3, newer than the 2 this brs-example reads; restore it with a newer brs-example"
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"{not json", "is not valid JSON"),
        (b"[1, 2]", "is not a JSON object"),
        (b'{"version": "1"}', "has no valid 'format' number"),
        (b'{"format": true}', "has no valid 'format' number"),
        (b'{"format": "1"}', "has no valid 'format' number"),
        (b'{"format": 0}', "has no valid 'format' number"),
        (b"[" * 100_000 + b"]" * 100_000, "is not valid JSON"),
        (b" " * LIMIT + b'{"format": 1}', f"is larger than {LIMIT} bytes"),
    ],
)
def test_a_malformed_member_is_a_one_line_archive_error(data: bytes, reason: str) -> None:
    with pytest.raises(ArchiveError) as caught:
        read_back(data)
    message = str(caught.value)
    assert message.startswith("the backup's brs-example.json ") and reason in message
    assert "\n" not in message and len(message) < 300


def test_require_names_the_missing_member() -> None:
    assert MEMBER.require({"format": 1}) == {"format": 1}
    with pytest.raises(BrsError, match=r"^the backup has no brs-example.json before its data; it was not made by brs-example$"):
        MEMBER.require(None)


def test_extract_copies_the_one_data_member_after_the_metadata(tmp_path: Path) -> None:
    archive = archive_of((MEMBER.name, b'{"format": 1, "version": "7"}'), ("dump", b"the data"))
    assert MEMBER.extract(archive, "dump", tmp_path / "dump", engine="Example") == {"format": 1, "version": "7"}
    assert (tmp_path / "dump").read_bytes() == b"the data"


def test_extract_of_a_backup_made_before_the_metadata_existed(tmp_path: Path) -> None:
    assert MEMBER.extract(archive_of(("dump", b"old")), "dump", tmp_path / "dump", engine="Example") is None
    assert (tmp_path / "dump").read_bytes() == b"old"


@pytest.mark.parametrize(
    ("members", "with_metadata", "message"),
    [
        ([("dump.rdb", b"x")], True, "unexpected member 'dump.rdb' in a Example backup"),
        ([("dump", b"x"), ("dump", b"y")], True, "unexpected member 'dump' in a Example backup"),
        ([(MEMBER.name, b'{"format": 1}')], True, "the backup holds no dump"),
        ([(MEMBER.name, b'{"format": 1}'), ("dump", b"x")], False, "unexpected member 'brs-example.json' in a Example backup"),
    ],
)
def test_extract_refuses_what_is_not_such_a_backup(
    tmp_path: Path, members: list[tuple[str, bytes]], with_metadata: bool, message: str
) -> None:
    with pytest.raises(DatabaseError) as caught:
        MEMBER.extract(archive_of(*members), "dump", tmp_path / "dump", engine="Example", with_metadata=with_metadata)
    assert str(caught.value) == message
