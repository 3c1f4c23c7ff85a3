"""The metadata member: a small JSON object a database plugin writes first in its dump.

It says what the rest of the archive is (the server's version, the dump method, the layout of
the data) so that a restore knows before it reads the data. It carries a format number: a
restore refuses, in one line, a member of a newer format than it reads, rather than guessing::

    METADATA = MetadataMember("brs-example.json", format=1, plugin="brs-example")

    def dump(self, archive):
        METADATA.write(archive, {"version": server_version})
        archive.add_stream(...)

    def restore(self, archive, target):
        metadata = None
        for entry in archive:
            if entry.name == METADATA.name:
                metadata = METADATA.read(entry.open())
            else:
                METADATA.require(metadata)  # the data came first: not a backup of this plugin
                ...

A backup is hostile input: the member is read up to :data:`LIMIT` bytes only and must be a JSON
object with a whole ``format`` number; anything else is a one-line
:class:`~brs.errors.ArchiveError`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from brs.errors import ArchiveError, DatabaseError

if TYPE_CHECKING:
    from brs.archive import ArchiveReader, ArchiveWriter

__all__ = ["FORMAT_KEY", "LIMIT", "MetadataMember"]

#: The key of the format number in the JSON object.
FORMAT_KEY = "format"
#: Largest member read (metadata is a few hundred bytes; a larger one is not ours).
LIMIT = 1 << 20
_COPY_BUFFER = 1 << 20


@dataclass(frozen=True)
class MetadataMember:
    """One plugin's metadata member.

    :param name: the member's name in the archive (keep it once backups exist).
    :param format: the newest format this plugin writes and reads; raise it when a change
        would mislead an older plugin, and keep reading the older formats.
    :param plugin: the distribution, for messages (``brs-postgres``).
    """

    name: str
    format: int
    plugin: str

    def write(self, archive: ArchiveWriter, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Add the member (``fields`` plus the format number) to ``archive``; returns what was written.

        Call it before adding the data, so that a restore reads it first. The member is
        owner-only (mode 0600): it may name hosts and paths.
        """
        if FORMAT_KEY in fields:
            raise ValueError(f"{FORMAT_KEY!r} is set by MetadataMember, not by the caller")
        document = {FORMAT_KEY: self.format, **fields}
        archive.add_bytes(self.name, (json.dumps(document, indent=2) + "\n").encode(), mode=0o600)
        return document

    def read(self, source: BinaryIO) -> dict[str, Any]:
        """The member's JSON object, checked for its format.

        :raises ArchiveError: the member is too large, not JSON, not an object, or has no
            whole positive format number.
        :raises DatabaseError: its format is newer than this plugin reads.
        """
        data = source.read(LIMIT + 1)
        if len(data) > LIMIT:
            raise ArchiveError(f"the backup's {self.name} is larger than {LIMIT} bytes; it is not metadata of {self.plugin}")
        try:
            document = json.loads(data)
        except (ValueError, RecursionError) as error:
            raise ArchiveError(f"the backup's {self.name} is not valid JSON: {_one_line(error)}") from None
        if not isinstance(document, dict):
            raise ArchiveError(f"the backup's {self.name} is not a JSON object")
        found = document.get(FORMAT_KEY)
        if isinstance(found, bool) or not isinstance(found, int) or found < 1:
            raise ArchiveError(f"the backup's {self.name} has no valid {FORMAT_KEY!r} number: {found!r:.40}")
        if found > self.format:
            raise DatabaseError(
                f"the backup's {self.name} has format {found}, newer than the {self.format} this {self.plugin} reads;"
                f" restore it with a newer {self.plugin}"
            )
        return document

    def extract(
        self, archive: ArchiveReader, member: str, path: Path, *, engine: str, with_metadata: bool = True
    ) -> dict[str, Any] | None:
        """Copy the one data ``member`` of a backup to the new file ``path``, reading the metadata first.

        For plugins whose backup is the metadata member and one file (a dump). Returns the
        metadata, or None for a backup without it (made before the plugin wrote one;
        ``with_metadata=False`` for backups of backup-restore-sidecar, which never had one).

        :raises DatabaseError: a member that is neither (``engine`` names the backup's kind), or
            no ``member`` at all; and what :meth:`read` raises.
        """
        metadata: dict[str, Any] | None = None
        found = False
        for entry in archive:
            if with_metadata and entry.name == self.name and metadata is None and not found:
                with entry.open() as source:
                    metadata = self.read(source)
            elif entry.name == member and not found:
                with entry.open() as source, open(path, "xb") as out:
                    shutil.copyfileobj(source, out, _COPY_BUFFER)
                found = True
            else:
                raise DatabaseError(f"unexpected member {entry.name!r} in a {engine} backup")
        if not found:
            raise DatabaseError(f"the backup holds no {member}")
        return metadata

    def require(self, document: dict[str, Any] | None) -> dict[str, Any]:
        """``document`` when the member was read, else a one-line :class:`~brs.errors.DatabaseError`.

        For the point where a restore meets the data: a backup of this plugin has its metadata
        member before it.
        """
        if document is None:
            raise DatabaseError(f"the backup has no {self.name} before its data; it was not made by {self.plugin}")
        return document


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:200] or type(error).__name__
