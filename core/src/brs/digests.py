"""The digests that prove a stored object is the one its manifest describes.

New backups record BLAKE3 (manifest format 3): on the machines brs runs on, SHA-256 without the
CPU's SHA extensions hashes about 0.35 GB/s and was the costliest single step of a backup and of
a restore; BLAKE3 (the ``blake3`` package, the reference Rust implementation) hashes several GB/s
on one core with the same 256-bit security. Manifests of formats 1 and 2 carry SHA-256, which
is still checked for them.
"""

from __future__ import annotations

from typing import Final, Protocol

__all__ = ["ALGORITHMS", "CURRENT", "NAMES", "Digest", "new_digest"]

#: What new backups record.
CURRENT: Final = "blake3"
#: Every algorithm a manifest may name, newest first.
ALGORITHMS: Final = ("blake3", "sha256")
#: How messages name them.
NAMES: Final = {"blake3": "BLAKE3", "sha256": "SHA-256"}


class Digest(Protocol):
    def update(self, data: bytes | bytearray | memoryview, /) -> object: ...

    def hexdigest(self) -> str: ...


def new_digest(algorithm: str) -> Digest:
    """A fresh digest of ``algorithm`` (one of :data:`ALGORITHMS`)."""
    if algorithm == "blake3":
        from blake3 import blake3  # imported by the operations that hash, not by listings

        return blake3()
    if algorithm == "sha256":
        import hashlib

        return hashlib.sha256()
    raise ValueError(f"unknown digest algorithm {algorithm!r}")
