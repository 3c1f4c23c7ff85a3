"""Backup identity, object names and the manifest that makes a backup exist.

One backup is two objects under the prefix: the data object
``<id><suffix>[.aes]`` (e.g. ``20261124T031500Z-3f9a1c.tar.zst.aes``) and its manifest,
the same name plus ``.manifest.json``. The manifest is written last: a backup exists only once
its manifest does, so an interrupted upload leaves at most an unlisted orphan.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime, UTC
from typing import Any

from brs.errors import IntegrityError

__all__ = ["MANIFEST_SUFFIX", "Manifest", "format_time", "new_backup_id", "parse_time"]

MANIFEST_SUFFIX = ".manifest.json"
FORMAT = "brs-manifest"
FORMAT_VERSION = 1
_ID = re.compile(r"^\d{8}T\d{6}(?:\d{6})?Z-[0-9a-f]{6,}$")


def new_backup_id(now: datetime | None = None) -> str:
    """A unique, time-ordered id: UTC time with microseconds plus a random suffix."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%dT%H%M%S%f}Z-{secrets.token_hex(3)}"


def is_backup_id(text: str) -> bool:
    return bool(_ID.match(text))


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Manifest:
    """Everything known about one committed backup; listing reads only these."""

    backup_id: str
    object_name: str
    created_at: str
    finished_at: str
    db: str
    db_plugin: str
    db_plugin_version: str
    db_server_version: str | None
    brs_version: str
    compression: str
    encryption: dict[str, Any] | None
    raw_size: int
    stored_size: int
    sha256: str
    members: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.object_name

    @property
    def manifest_name(self) -> str:
        return self.object_name + MANIFEST_SUFFIX

    @property
    def encrypted(self) -> bool:
        return self.encryption is not None

    @property
    def key_id(self) -> str | None:
        return None if self.encryption is None else str(self.encryption.get("key_id"))

    @property
    def created(self) -> datetime:
        return parse_time(self.created_at)

    def to_json(self) -> bytes:
        document = {"format": FORMAT, "format_version": FORMAT_VERSION, **asdict(self)}
        return json.dumps(document, indent=2, sort_keys=True).encode() + b"\n"

    @classmethod
    def from_json(cls, data: bytes, name: str) -> Manifest:
        try:
            document = json.loads(data)
            if document.get("format") != FORMAT:
                raise ValueError("not a brs manifest")
            if int(document.get("format_version", 0)) > FORMAT_VERSION:
                raise ValueError(f"manifest format {document['format_version']} is newer than this brs understands")
            known = {f for f in cls.__dataclass_fields__}
            return cls(**{k: v for k, v in document.items() if k in known})
        except (ValueError, TypeError, KeyError) as error:
            raise IntegrityError(f"manifest {name} is unreadable: {error}") from error

    def summary(self) -> dict[str, Any]:
        """The public listing shape (``brs backups list --json``)."""
        return {
            "version": self.backup_id,
            "name": self.object_name,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
            "size": self.stored_size,
            "raw_size": self.raw_size,
            "compression": self.compression,
            "encrypted": self.encrypted,
            "key_id": self.key_id,
            "db": self.db,
            "db_server_version": self.db_server_version,
            "sha256": self.sha256,
        }
