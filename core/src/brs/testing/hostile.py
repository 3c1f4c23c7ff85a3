"""Hostile tar archives for extraction tests, and a way to plant one as a stored backup.

Each builder returns the bytes of a plain tar whose members live below ``prefix`` (``"data/"``
for localfs backups, ``""`` for a bare archive), preceded by the prefix's own directory entry.
"""

from __future__ import annotations

import dataclasses

import io
import os
import tarfile
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "absolute_symlink",
    "cve_2025_4517",
    "device_node",
    "dotdot_member",
    "hard_link_to_missing",
    "hard_link_to_symlink",
    "member",
    "plant_backup",
    "setuid_root_file",
    "symlink_chain",
    "tar_of",
]


def member(
    name: str, kind: bytes = tarfile.REGTYPE, *, link: str = "", data: bytes = b"", mode: int = 0o644
) -> tuple[tarfile.TarInfo, bytes]:
    """One member: a header and (for a regular file) its content."""
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode, info.mtime = kind, link, mode, 1_600_000_000
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data


def tar_of(members: Iterable[tuple[tarfile.TarInfo, bytes]], prefix: str = "") -> bytes:
    """A tar of ``members``, each name below ``prefix`` (whose directory comes first)."""
    sink = io.BytesIO()
    with tarfile.open(fileobj=sink, mode="w", format=tarfile.PAX_FORMAT) as tar:
        if prefix:
            tar.addfile(member(prefix.rstrip("/"), tarfile.DIRTYPE, mode=0o755)[0])
        for info, data in members:
            info.name = prefix + info.name
            if info.type == tarfile.LNKTYPE:
                info.linkname = prefix + info.linkname
            tar.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)
    return sink.getvalue()


def cve_2025_4517(victim: Path, prefix: str = "") -> bytes:
    """The path-length trick of CVE-2025-4517, aimed at the existing file ``victim``.

    Nested directories with 247-character names and a one-letter symlink to each make a path
    whose real form is longer than PATH_MAX, so ``realpath`` stops resolving it and judges it by
    its text. A link at the bottom climbs back to the top; ``escape`` then climbs out of the
    target and down to ``victim``'s directory, a hard link is made to ``victim`` through it,
    and a regular member of the same name writes into it.
    """
    component = "d" * 247
    steps = "abcdefghijklmnop"
    members = []
    path = ""
    for step in steps:
        members.append(member(os.path.join(path, component), tarfile.DIRTYPE, mode=0o755))
        members.append(member(os.path.join(path, step), tarfile.SYMTYPE, link=component))
        path = os.path.join(path, component)
    bottom = os.path.join(*steps, "l" * 254)
    members.append(member(bottom, tarfile.SYMTYPE, link=os.path.join(*[".."] * len(steps))))
    climb = os.path.join(*[".."] * 12)  # from the target root up past "/", which stays "/"
    members.append(member("escape", tarfile.SYMTYPE, link=os.path.join(bottom, climb, str(victim.parent).lstrip("/"))))
    members.append(member("overwrite", tarfile.LNKTYPE, link=os.path.join("escape", victim.name)))
    members.append(member("overwrite", data=b"written through the archive\n"))
    return tar_of(members, prefix)


def symlink_chain(prefix: str = "", depth: int = 8) -> bytes:
    """``A -> d0/d1/.../d7/../..``, then ``d0`` ... ``d7 -> .``: each link points inside when it
    is created, but ``A`` ends up two levels above the target."""
    hops = "/".join(f"d{i}" for i in range(depth))
    members = [member("A", tarfile.SYMTYPE, link=f"{hops}/../..")]
    members += [member(f"d{i}", tarfile.SYMTYPE, link=".") for i in range(depth)]
    return tar_of(members, prefix)


def setuid_root_file(prefix: str = "") -> bytes:
    """A setuid, setgid root-owned executable and a sticky directory."""
    program = member("suid", data=b"#!/bin/sh\nid\n", mode=0o6755)
    sticky = member("shared", tarfile.DIRTYPE, mode=0o1777)
    return tar_of([program, sticky, member("plain", data=b"plain\n", mode=0o640)], prefix)


def hard_link_to_missing(prefix: str = "") -> bytes:
    """A hard link to a name the archive never holds (it may exist on the restoring machine)."""
    return tar_of([member("kept", data=b"kept\n"), member("link", tarfile.LNKTYPE, link="etc/passwd")], prefix)


def hard_link_to_symlink(prefix: str = "") -> bytes:
    """A hard link to a symlink extracted earlier (not a regular file)."""
    return tar_of(
        [
            member("sym", tarfile.SYMTYPE, link="kept"),
            member("kept", data=b"kept\n"),
            member("link", tarfile.LNKTYPE, link="sym"),
        ],
        prefix,
    )


def device_node(prefix: str = "") -> bytes:
    """A character device (``/dev/null``'s numbers)."""
    info, data = member("null", tarfile.CHRTYPE)
    info.devmajor, info.devminor = 1, 3
    return tar_of([(info, data)], prefix)


def absolute_symlink(victim: Path, prefix: str = "") -> bytes:
    """A symlink to ``victim`` by absolute path, then a regular member written through it."""
    return tar_of([member("abs", tarfile.SYMTYPE, link=str(victim)), member("abs", data=b"through\n")], prefix)


def dotdot_member(escape: str, prefix: str = "") -> bytes:
    """A regular member named ``escape`` (``"../outside/victim.txt"``) below ``prefix``."""
    return tar_of([member(escape, data=b"escaped\n")], prefix)


def plant_backup(stored: Path, payload: bytes, key: str | None = None) -> None:
    """Replace the stored backup ``stored`` (from the local storage provider) with ``payload``,
    a plain tar, compressed as the manifest says and encrypted with ``key`` when given; the
    manifest's checksum, size and member count are updated so that only the content is hostile."""
    from brs.crypto import StreamEncryptor, parse_key
    from brs.digests import new_digest
    from brs.assembly import compression
    from brs.manifest import Manifest
    from brs.trust import sign

    manifest_path = stored.with_name(stored.name + ".manifest.json")
    manifest = Manifest.from_json(manifest_path.read_bytes(), manifest_path.name)
    compressor = compression(manifest.compression).compressor()
    sealed = compressor.compress(payload) + compressor.flush()
    if key is not None:
        encryptor = StreamEncryptor(parse_key(key, "test key"), manifest.backup_id)
        sealed = encryptor.update(sealed) + encryptor.finalize()
    stored.write_bytes(sealed)
    with tarfile.open(fileobj=io.BytesIO(payload)) as tar:
        members = len(tar.getmembers())
    algorithm = manifest.digest[0]
    digest = new_digest(algorithm)
    digest.update(sealed)
    planted = dataclasses.replace(manifest, stored_size=len(sealed), members=members)
    if algorithm == "blake3":
        planted = dataclasses.replace(planted, blake3=digest.hexdigest())
    else:
        planted = dataclasses.replace(planted, sha256=digest.hexdigest())
    if key is not None:
        # Whoever has the key can also sign the manifest (brs.trust): only the content is hostile.
        planted = sign(planted, parse_key(key, "test key"))
    manifest_path.write_bytes(planted.to_json())
