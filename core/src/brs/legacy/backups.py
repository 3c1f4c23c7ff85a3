"""Old backups as brs sees them: listed next to its own, read through the same pipeline stages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO, cast

from brs.crypto import Keyring
from brs.errors import DecryptionError, IntegrityError, KeyMissing
from brs.interfaces import Compression, Storage, StoredVersion
from brs.legacy import FORMAT, ROOT, SCHEME, naming
from brs.legacy.ctr import HEAD_SIZE, IV_SIZE, CtrDecryptor, starts_like
from brs.manifest import Manifest, format_time
from brs.pipeline import CHUNK, Channel, ChannelReader, Pipeline
from brs.streams import FullReader

__all__ = ["FORMAT", "ROOT", "SCHEME", "LegacyBackup", "list_legacy", "read_legacy"]

#: Prefix of the version ids brs gives old backups, so they never collide with its own ids.
ID_PREFIX = "old-"


@dataclass(frozen=True)
class LegacyBackup(Manifest):
    """A backup of backup-restore-sidecar, described with brs's manifest fields.

    It has no manifest object, no checksum and no authentication: ``sha256`` is empty and
    ``members`` unknown (0). ``stored`` locates the object version in the storage.
    """

    stored: StoredVersion | None = field(default=None, compare=False)

    @classmethod
    def of(cls, stored: StoredVersion, db: str) -> LegacyBackup:
        name = naming.parse(stored.name)
        created = format_time(stored.modified)
        return cls(
            backup_id=ID_PREFIX + stored.version,
            object_name=stored.name,
            created_at=created,
            finished_at=created,
            db=db,
            db_plugin="",
            db_plugin_version="",
            db_server_version=None,
            brs_version="",
            compression=name.compression,
            encryption={"scheme": SCHEME} if name.encrypted else None,
            raw_size=0,
            stored_size=stored.size,
            sha256="",
            members=0,
            stored=stored,
        )

    @property
    def source(self) -> StoredVersion:
        assert self.stored is not None
        return self.stored

    @property
    def names(self) -> tuple[str, ...]:
        # Also the version as the old tool's `restore ls` printed it (an S3 VersionId, a GCS
        # generation), so old runbooks keep working.
        return (*super().names, self.source.version)

    @property
    def key_id(self) -> str | None:
        return None  # the old format does not say which key it needs

    def summary(self) -> dict[str, Any]:
        row = super().summary()
        row.update({"format": FORMAT, "integrity": "none", "sha256": None, "raw_size": None, "db_server_version": None})
        return row


def list_legacy(storage: Storage[Any], db: str | None) -> list[LegacyBackup]:
    """The old tool's backups in the selected storage (unordered)."""
    versions = list(storage.legacy_list())
    return [LegacyBackup.of(version, db or "") for version in versions]


@dataclass
class _Head:
    """Holds back the first plain bytes until they show whether the key and format are right."""

    backup: LegacyBackup
    keyring: Keyring
    iv: bytes
    buffered: bytearray = field(default_factory=bytearray)
    decryptor: CtrDecryptor | None = None

    def feed(self, piece: bytes, out: Channel) -> None:
        if self.decryptor is not None:
            out.put(self.decryptor.update(piece))
            return
        self.buffered += piece
        if len(self.buffered) >= HEAD_SIZE:
            self.flush(out)

    def flush(self, out: Channel) -> None:
        if self.decryptor is None:
            self.decryptor = self._choose_key(bytes(self.buffered))
            out.put(self.decryptor.update(bytes(self.buffered)))
            self.buffered.clear()

    def _choose_key(self, head: bytes) -> CtrDecryptor:
        backup = self.backup
        for key_id in self.keyring.ids:
            key = self.keyring.find(key_id)
            if starts_like(backup.compression, CtrDecryptor(key, self.iv).update(head)):
                return CtrDecryptor(key, self.iv)
        raise KeyMissing(
            f"old backup {backup.backup_id} ({backup.object_name}) cannot be decrypted with the configured "
            f"key{'s' if len(self.keyring.ids) > 1 else ''} ({', '.join(self.keyring.ids)}): wrong key "
            f"(the decrypted data does not start like a {_suffix_of(backup.compression)} archive)"
        )


def _suffix_of(compression: str) -> str:
    """``.tar.gz`` for ``targz``: how the old tool named a method in object names."""
    return next(suffix for suffix, method in naming.COMPRESSIONS.items() if method == compression)


def read_legacy(
    storage: Storage[Any],
    compression: Compression,
    keyring: Keyring,
    backup: LegacyBackup,
    consume: Callable[[BinaryIO], Any],
    phase: str,
    on_progress: Callable[[int], None],
    *,
    allow_unencrypted: bool,
) -> Any:
    """Stream an old backup through download, AES-CTR decryption and decompression into ``consume``.

    ``compression`` is the driver of ``backup.compression``. The IV is
    read first with a ranged read of the last 16 bytes, so the object is streamed once and
    never held in memory or spooled to disk.
    """
    what = f"old backup {backup.backup_id} ({backup.object_name})"
    stored = backup.source
    if backup.encrypted and not keyring:
        raise KeyMissing(f"{what} is encrypted (.aes), but no encryption key is configured")
    if not backup.encrypted and keyring.encryption_key is not None and not allow_unencrypted:
        # An encryption key means "my backups are encrypted"; a plain object next to them may be
        # planted. The same rule as for brs's own backups.
        raise DecryptionError(
            f"{what} is not encrypted, but an encryption key is configured; "
            "pass --allow-unencrypted to restore unencrypted backups"
        )
    payload = stored.size - (IV_SIZE if backup.encrypted else 0)
    if payload < 0:
        raise IntegrityError(f"{what} has {stored.size} bytes, too short to hold its IV")
    iv = _read_iv(storage, stored, payload, what) if backup.encrypted else b""

    pipe = Pipeline(phase)
    fetched, plain, tar_in = pipe.channel(), pipe.channel(), pipe.channel()

    def download() -> None:
        left = payload
        with storage.legacy_open(stored, 0) as handle:
            while left and (piece := handle.read(min(CHUNK, left))):
                left -= len(piece)
                on_progress(payload - left)
                fetched.put(piece)
        if left:
            raise IntegrityError(f"{what} is truncated: {payload - left} of {payload} bytes could be read")
        fetched.close()

    def decrypt() -> None:
        head = _Head(backup, keyring, iv)
        for piece in fetched:
            head.feed(piece, plain)
        head.flush(plain)
        plain.close()

    def check_plain() -> None:
        # Without a key nothing tells a damaged object from another format early; the head does.
        head = bytearray()
        checked = False
        for piece in fetched:
            if not checked:
                head += piece[: HEAD_SIZE - len(head)]
                if len(head) >= HEAD_SIZE:
                    _check_plain_head(backup, bytes(head), what)
                    checked = True
            plain.put(piece)
        if not checked:
            _check_plain_head(backup, bytes(head), what)
        plain.close()

    def decompress() -> None:
        reader = compression.decompress(cast(BinaryIO, ChannelReader(plain)))
        while piece := reader.read(CHUNK):
            tar_in.put(piece)
        tar_in.close()

    pipe.stage("download", download)
    pipe.stage("decrypt" if backup.encrypted else "check", decrypt if backup.encrypted else check_plain)
    pipe.stage("decompress", decompress)
    return pipe.run(lambda: consume(ChannelReader(tar_in)), name=phase)  # type: ignore[arg-type]


def _check_plain_head(backup: LegacyBackup, head: bytes, what: str) -> None:
    if not starts_like(backup.compression, head):
        raise IntegrityError(f"{what} does not start like a {_suffix_of(backup.compression)} archive: damaged or not a backup")


def _read_iv(storage: Storage[Any], stored: StoredVersion, offset: int, what: str) -> bytes:
    with storage.legacy_open(stored, offset) as handle:
        # One more byte than the IV: an object that grew since it was listed is not this version.
        iv = FullReader(handle).read(IV_SIZE + 1)
    if len(iv) != IV_SIZE:
        raise IntegrityError(f"{what} changed while it was read: expected {IV_SIZE} IV bytes at its end, got {len(iv)}")
    return bytes(iv)
