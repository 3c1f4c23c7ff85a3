"""The snapshot stream of the maintenance API, checked against the hash etcd appends."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from typing import Any

import grpc
from aetcd import rpc

from brs.errors import DatabaseError, IntegrityError
from brs_etcd.connection import Session, describe

__all__ = ["HASH_SIZE", "SnapshotStream", "verify_snapshot_hash"]

#: etcd ends every API snapshot with the SHA-256 of the bytes before it.
HASH_SIZE = 32


class SnapshotStream(io.RawIOBase):
    """A readable stream of one snapshot, hashed on the way.

    The last 32 bytes are held back until the server closed the stream; only when they equal
    the SHA-256 of everything before are they released, so a snapshot cut short or damaged in
    transit raises :class:`IntegrityError` instead of ending cleanly. The bytes read are exactly
    what ``etcdctl snapshot save`` writes, hash included, so ``etcdutl snapshot restore`` checks
    the hash again.
    """

    def __init__(self, session: Session, timeout: float, username: str | None) -> None:
        super().__init__()
        self._session = session
        self._username = username
        self._call: Any = session.maintenance.Snapshot(rpc.SnapshotRequest(), timeout=timeout, metadata=session.metadata)
        self._responses: Iterator[Any] = iter(self._call)
        self._digest = hashlib.sha256()
        self._tail = b""
        self._pending = memoryview(b"")
        self._ended = False
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending and not self._ended:
            self._fetch()
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        self.size += n
        return n

    def _fetch(self) -> None:
        try:
            response = next(self._responses, None)
        except grpc.RpcError as error:
            raise DatabaseError(describe(error, self._session.label, self._username)) from None
        if response is None:
            self._ended = True
            if len(self._tail) != HASH_SIZE or self._digest.digest() != self._tail:
                raise IntegrityError(f"{self._session.label}: the snapshot does not match the SHA-256 etcd appended to it")
            self._pending = memoryview(self._tail)
            return
        data = self._tail + bytes(response.blob)
        body, self._tail = data[:-HASH_SIZE], data[-HASH_SIZE:]
        self._digest.update(body)
        self._pending = memoryview(body)

    def close(self) -> None:
        if not self._ended:
            self._call.cancel()  # a failed pipeline must not leave the server streaming
        super().close()


def verify_snapshot_hash(path: Any) -> None:
    """Check a snapshot file's appended SHA-256 (raises :class:`IntegrityError`)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        handle.seek(0, io.SEEK_END)
        size = handle.tell()
        if size <= HASH_SIZE:
            raise IntegrityError(f"snapshot {path} is too short ({size} bytes)")
        handle.seek(0)
        left = size - HASH_SIZE
        while left:
            piece = handle.read(min(left, 1 << 20))
            if not piece:
                raise IntegrityError(f"snapshot {path} ended early")
            digest.update(piece)
            left -= len(piece)
        if handle.read() != digest.digest():
            raise IntegrityError(f"snapshot {path} does not match its SHA-256")
