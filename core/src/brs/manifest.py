"""Backup identity, object names and the manifest that makes a backup exist.

One backup is two objects under the prefix: the data object
``<id><suffix>[.aes]`` (e.g. ``20261124T031500Z-3f9a1c.tar.zst.aes``) and its manifest,
the same name plus ``.manifest.json``. The manifest is written last: a backup exists only once
its manifest does, so an interrupted upload leaves at most an unlisted orphan.

Manifests come from storage that others may write to, so reading one is parsing hostile input:
its size is bounded before it is read, and its document is decoded by a schema (msgspec: one
C extension that checks types, lengths and patterns while it decodes, at a fraction of
pydantic's import time) into a :class:`Manifest`. Anything else is an :class:`InvalidManifest`.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import datetime, UTC
from typing import Annotated, Any, Final

import msgspec

from brs.errors import IntegrityError

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST_SUFFIX",
    "MAX_MANIFEST_SIZE",
    "Encryption",
    "Identity",
    "InvalidManifest",
    "Manifest",
    "backup_time",
    "format_time",
    "is_backup_id",
    "new_backup_id",
    "parse_time",
]

MANIFEST_SUFFIX: Final = ".manifest.json"
FORMAT: Final = "brs-manifest"
#: 1: brs 0.1 (no MAC, no identity); 2: ``identity`` and ``mac``; 3: ``blake3`` instead of
#: ``sha256`` (see docs/format.md).
FORMAT_VERSION: Final = 3
#: A manifest is a few hundred bytes; anything near this bound is not one of ours.
MAX_MANIFEST_SIZE: Final = 1 << 20
_ID_PATTERN: Final = r"^\d{8}T\d{6}(?:\d{6})?Z-[0-9a-f]{6,32}$"
_ID: Final = re.compile(_ID_PATTERN)
_TIME_PATTERN: Final = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})$"

_Name = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
_Text = Annotated[str, msgspec.Meta(max_length=255)]
_Time = Annotated[str, msgspec.Meta(pattern=_TIME_PATTERN)]
_Size = Annotated[int, msgspec.Meta(ge=0, le=1 << 62)]
_Hex16 = Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{16}$")]
_Hex64 = Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")]


#: Fields that a format version added; older manifests do not have them.
_FIELDS_SINCE: Final = {"identity": 2, "mac": 2, "blake3": 3}


class InvalidManifest(IntegrityError):
    """A manifest object that is too big, not JSON, or does not match the manifest schema."""


def new_backup_id(now: datetime | None = None) -> str:
    """A unique, time-ordered id: UTC time with microseconds plus a random suffix."""
    import secrets  # only a backup makes an id; listings import this module too

    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%dT%H%M%S%f}Z-{secrets.token_hex(3)}"


def is_backup_id(text: str) -> bool:
    return bool(_ID.match(text))


def backup_time(backup_id: str) -> datetime:
    """The UTC time a backup id encodes (the moment its backup started)."""
    stamp = backup_id.split("Z-", 1)[0]
    # Sliced rather than strptime'd: listings call this per backup, and _strptime's import and
    # regular expressions cost more than the whole listing of a few backups.
    if len(stamp) not in (15, 21) or stamp[8] != "T" or not (stamp[:8] + stamp[9:]).isdigit():
        raise ValueError(f"{backup_id!r} does not start with a UTC time")
    year, month, day = int(stamp[0:4]), int(stamp[4:6]), int(stamp[6:8])
    hour, minute, second = int(stamp[9:11]), int(stamp[11:13]), int(stamp[13:15])
    return datetime(year, month, day, hour, minute, second, int(stamp[15:] or 0), tzinfo=UTC)


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Encryption(msgspec.Struct, frozen=True):
    """The schema of a manifest's ``encryption``: ``crypto.SCHEME``, its version and the key id."""

    scheme: _Text
    version: Annotated[int, msgspec.Meta(ge=1, le=255)]
    key_id: _Hex16


@dataclass(frozen=True)
class Identity:
    """Which database a backup belongs to (see :mod:`brs.identity`).

    ``host`` is the pod or host name (``BRS_POD_NAME``, else ``HOSTNAME``); ``database`` is what
    the database plugin reports about the data itself (e.g. the PostgreSQL system identifier),
    or None when it reports nothing.
    """

    host: _Text
    database: _Text | None = None

    def __str__(self) -> str:
        return self.host if self.database is None else f"{self.host} ({self.database})"


class _Head(msgspec.Struct):
    """What is read first, to pick the schema of the rest."""

    format: Annotated[str, msgspec.Meta(max_length=64)]
    format_version: Annotated[int, msgspec.Meta(ge=1)]


@dataclass(frozen=True, kw_only=True)
class Manifest:
    """Everything known about one committed backup; listing reads only these.

    A dataclass that msgspec decodes with the constraints in its annotations.
    """

    backup_id: Annotated[str, msgspec.Meta(pattern=_ID_PATTERN)]
    object_name: _Name
    created_at: _Time
    finished_at: _Time
    db: _Name
    db_plugin: _Text
    db_plugin_version: _Text
    db_server_version: _Text | None
    brs_version: _Text
    compression: _Name
    #: ``{"scheme", "version", "key_id"}`` (:class:`Encryption`), or None when not encrypted.
    encryption: dict[str, Any] | None
    raw_size: _Size
    stored_size: _Size
    members: _Size
    #: Formats 1 and 2: SHA-256 of the stored object.
    sha256: _Hex64 | None = None
    #: Format 3: BLAKE3 (256 bits) of the stored object.
    blake3: _Hex64 | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: Format 2: the database the backup belongs to (None in format 1 manifests).
    identity: Identity | None = None
    #: Format 2: HMAC-SHA256 of the document, keyed by the encryption key (see :mod:`brs.trust`).
    mac: _Hex64 | None = None
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    @property
    def name(self) -> str:
        return self.object_name

    @property
    def manifest_name(self) -> str:
        return self.object_name + MANIFEST_SUFFIX

    @property
    def names(self) -> tuple[str, ...]:
        """Every way a user may name this backup (``brs restore NAME``)."""
        return (self.backup_id, self.object_name, self.manifest_name)

    @property
    def digest(self) -> tuple[str, str]:
        """The stored object's digest as ``(algorithm, lowercase hex)``."""
        if self.blake3 is not None:
            return "blake3", self.blake3
        assert self.sha256 is not None, "checked when the manifest was read"
        return "sha256", self.sha256

    @property
    def digest_text(self) -> str:
        """``algorithm:hex``, as listings and ``brs verify`` show it."""
        return ":".join(self.digest)

    @property
    def encrypted(self) -> bool:
        return self.encryption is not None

    @property
    def key_id(self) -> str | None:
        return None if self.encryption is None or "key_id" not in self.encryption else str(self.encryption["key_id"])

    @property
    def created(self) -> datetime:
        return parse_time(self.created_at)

    @property
    def started(self) -> datetime:
        """When the backup started, as its id says (the encrypted stream authenticates the id,
        so listings order by it); ``created_at`` for backups whose id is not a time."""
        return backup_time(self.backup_id) if is_backup_id(self.backup_id) else self.created

    def _document(self) -> dict[str, Any]:
        """The fields of this manifest's format: a field that came later is left out, so the
        canonical form of an older manifest is the one its writer signed."""
        # asdict reads every field, also those msgspec left at their class default.
        document = dataclasses.asdict(self)
        for name, since in _FIELDS_SINCE.items():
            if self.format_version < since:
                del document[name]
        return document

    def to_json(self) -> bytes:
        return msgspec.json.format(msgspec.json.encode(self._document(), order="sorted"), indent=2) + b"\n"

    def signed_bytes(self) -> bytes:
        """The canonical form a MAC covers: every field but ``mac`` (null), keys sorted, no spaces."""
        return msgspec.json.encode(dataclasses.replace(self, mac=None)._document(), order="sorted")

    @classmethod
    def from_json(cls, data: bytes, name: str) -> Manifest:
        """Decode and validate manifest object ``name``; raises :class:`InvalidManifest`."""
        if len(data) > MAX_MANIFEST_SIZE:
            raise InvalidManifest(f"manifest {name} is larger than {MAX_MANIFEST_SIZE} bytes")
        try:
            head = msgspec.json.decode(data, type=_Head)
            if head.format != FORMAT:
                raise ValueError("not a brs manifest")
            if head.format_version > FORMAT_VERSION:
                raise ValueError(f"manifest format {head.format_version} is newer than this brs understands")
            manifest = msgspec.json.decode(data, type=cls)
            if manifest.format_version == 1:
                # Format 1 had neither field; a value there was not written by brs.
                manifest = dataclasses.replace(manifest, identity=None, mac=None)
            manifest._check(name)
        except (msgspec.DecodeError, ValueError, RecursionError) as error:
            reason = str(error) if not isinstance(error, RecursionError) else "nested too deeply"
            raise InvalidManifest(f"manifest {name} is unreadable: {reason}") from None
        return manifest

    def _check(self, name: str) -> None:
        """Rules the schema cannot express: consistent names and times."""
        if name != self.manifest_name:
            raise ValueError(f"it describes {self.object_name}, not {name.removesuffix(MANIFEST_SUFFIX)}")
        if not self.object_name.startswith(self.backup_id + "."):
            raise ValueError(f"object {self.object_name} is not named after backup {self.backup_id}")
        recorded = [algorithm for algorithm in ("blake3", "sha256") if getattr(self, algorithm) is not None]
        wanted = "blake3" if self.format_version >= 3 else "sha256"
        if recorded != [wanted]:
            raise ValueError(f"a format {self.format_version} manifest records a {wanted} digest and no other")
        if self.encryption is not None:
            msgspec.convert(self.encryption, type=Encryption)
        if self.encrypted != self.object_name.endswith(".aes"):
            raise ValueError("its encryption does not match the object name")
        parse_time(self.created_at)
        parse_time(self.finished_at)
        backup_time(self.backup_id)

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
            "digest": self.digest_text,
            "sha256": self.sha256,
            "identity": None if self.identity is None else dataclasses.asdict(self.identity),
        }
