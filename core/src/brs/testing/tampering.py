"""What an attacker or a broken writer does to a backup store, done by hand to local storage.

Every helper edits the files of ``--backup-provider local`` directly, as anyone with write access
to the bucket could, and the tests then drive the real ``brs`` CLI over the result.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import time
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from brs.testing import run_brs

MANIFEST = ".manifest.json"


@dataclass
class Store:
    """A local backup store and the environment of the ``brs`` commands that use it."""

    env: dict[str, str]
    root: Path
    data: Path

    @classmethod
    def of(cls, env: dict[str, str], **extra: str) -> Store:
        """The store of ``env`` (``BRS_LOCAL_PROVIDER_BACKUP_PATH``, ``BRS_DB_DATA_DIRECTORY``,
        as the ``brs_env`` fixture sets them) plus ``extra`` variables; creates the data directory."""
        full = {**env, **extra}
        data = Path(full["BRS_DB_DATA_DIRECTORY"])
        data.mkdir(parents=True, exist_ok=True)
        return cls(full, Path(full["BRS_LOCAL_PROVIDER_BACKUP_PATH"]), data)

    def brs(self, *args: str, **env: str) -> Any:
        return run_brs(*args, env={**self.env, **env})

    def backup(self, content: str, **env: str) -> str:
        """Write ``content`` into the data directory and take a backup of it; its version."""
        (self.data / "state.txt").write_text(content)
        result = self.brs("backup", **env)
        assert result.returncode == 0, result.stderr
        return str(result.stdout.strip())

    def manifests(self) -> dict[str, Path]:
        """Backup id -> manifest file, for every manifest file in the store."""
        return {p.name.split(".", 1)[0]: p for p in self.root.iterdir() if p.name.endswith(MANIFEST)}

    def manifest(self, version: str) -> Path:
        return self.manifests()[version]

    def document(self, version: str) -> dict[str, Any]:
        return dict(json.loads(self.manifest(version).read_text()))

    def downgrade(self, version: str, format_version: int, key: str | None = None) -> None:
        """Rewrite backup ``version``'s manifest as an older brs wrote it: SHA-256 instead of
        BLAKE3 (formats 1 and 2), and neither identity nor MAC (format 1). With ``key`` (the
        encryption key's text) a format 2 manifest gets the MAC that brs wrote, computed here as
        docs/format.md describes it, not by brs's own code."""
        document = self.document(version)
        document["sha256"] = hashlib.sha256((self.root / document["object_name"]).read_bytes()).hexdigest()
        document.pop("blake3")
        if format_version == 1:
            document.pop("identity")
            document.pop("mac")
        document["format_version"] = format_version
        if format_version == 2 and key is not None:
            document["mac"] = _documented_mac(document, key.encode("ascii"))
        self.manifest(version).write_text(json.dumps(document))

    def listed(self, **env: str) -> list[dict[str, Any]]:
        result = self.brs("backups", "list", "--json", **env)
        assert result.returncode == 0, result.stderr
        return list(json.loads(result.stdout))

    def files(self) -> set[str]:
        return {p.name for p in self.root.iterdir()}

    def restored(self) -> str:
        return (self.data / "state.txt").read_text()

    def age(self, name: str, days: float) -> None:
        """Make object ``name`` look ``days`` old to the storage listing."""
        then = time.time() - days * 86400
        os.utime(self.root / name, (then, then))

    def plant_plain_backup(self, backup_id: str, content: str) -> str:
        """A complete unencrypted backup as an attacker without the key writes it: a tar of the
        data directory with ``state.txt`` and a manifest that says it is not encrypted."""
        buffer = BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
            directory = tarfile.TarInfo("data")
            directory.type, directory.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(directory)
            payload = content.encode()
            member = tarfile.TarInfo("data/state.txt")
            member.size, member.mode = len(payload), 0o644
            tar.addfile(member, BytesIO(payload))
        blob = buffer.getvalue()
        name = f"{backup_id}.tar"
        (self.root / name).write_bytes(blob)
        stamp = f"{backup_id[0:4]}-{backup_id[4:6]}-{backup_id[6:8]}T{backup_id[9:11]}:{backup_id[11:13]}:{backup_id[13:15]}.000Z"
        document = {
            "format": "brs-manifest",
            "format_version": 2,
            "backup_id": backup_id,
            "object_name": name,
            "created_at": stamp,
            "finished_at": stamp,
            "db": "localfs",
            "db_plugin": "brs-localfs",
            "db_plugin_version": "0.1.0",
            "db_server_version": None,
            "brs_version": "0.1.0",
            "compression": "tar",
            "encryption": None,
            "raw_size": len(blob),
            "stored_size": len(blob),
            "sha256": hashlib.sha256(blob).hexdigest(),
            "members": 2,
            "extra": {},
            "identity": None,
            "mac": None,
        }
        (self.root / (name + MANIFEST)).write_text(json.dumps(document))
        return backup_id

    def copy_backup_as(self, version: str, new_id: str, **changes: Any) -> str:
        """Copy backup ``version`` (plain) under ``new_id``, its manifest edited with ``changes``;
        the stored object is the same bytes, so only the manifest says it is another backup."""
        document = self.document(version)
        suffix = document["object_name"][len(version) :]
        name = new_id + suffix
        shutil.copyfile(self.root / document["object_name"], self.root / name)
        document.update(backup_id=new_id, object_name=name, **changes)
        (self.root / (name + MANIFEST)).write_text(json.dumps(document))
        return new_id


def one_year_ahead_id(suffix: str) -> str:
    """A backup id dated a year after now (what a host with a skewed clock writes)."""
    moment = time.gmtime(time.time() + 366 * 86400)
    return time.strftime("%Y%m%dT%H%M%S", moment) + "000000Z-" + suffix


def past_id(days: float, suffix: str) -> str:
    moment = time.gmtime(time.time() - days * 86400)
    return time.strftime("%Y%m%dT%H%M%S", moment) + "000000Z-" + suffix


def _documented_mac(document: dict[str, Any], key: bytes) -> str:
    """HMAC-SHA256 of the canonical manifest (``mac`` null, keys sorted, no whitespace) under
    HKDF-SHA256(key, info "brs manifest mac v1"), as docs/format.md specifies."""
    import hmac

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    mac_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"brs manifest mac v1").derive(key)
    canonical = json.dumps({**document, "mac": None}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(mac_key, canonical.encode(), hashlib.sha256).hexdigest()
