"""The old tool's encryption: AES-256-CTR, raw 32-byte key, and the IV as the last 16 bytes.

There is no header, no key id and no MAC, so nothing proves that a key is right or that the
data is unchanged. What can be told apart is whether the decrypted stream *starts* like the
compression its name promises (gzip, lz4 frame or tar magic): with a wrong key it practically
never does, which lets brs say "wrong key" instead of a decompression error.
"""

from __future__ import annotations


__all__ = ["HEAD_SIZE", "IV_SIZE", "CtrDecryptor", "starts_like"]

IV_SIZE = 16
#: Plain bytes needed to recognise every compression (the tar magic sits at offset 257).
HEAD_SIZE = 512
_TAR_MAGIC = slice(257, 262)


class CtrDecryptor:
    """Decrypts a stream incrementally; the counter starts at the IV (128-bit big-endian)."""

    def __init__(self, key: bytes, iv: bytes) -> None:
        if len(iv) != IV_SIZE:
            raise ValueError(f"the IV must be {IV_SIZE} bytes")
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # only for old backups

        self._context = Cipher(algorithms.AES(key), modes.CTR(iv)).decryptor()

    def update(self, data: bytes) -> bytes:
        return self._context.update(data)


def starts_like(compression: str, head: bytes) -> bool:
    """Whether ``head`` (the first plain bytes, up to :data:`HEAD_SIZE`) fits ``compression``."""
    if compression == "targz":
        return head[:3] == b"\x1f\x8b\x08"
    if compression == "tarlz4":
        return head[:4] == b"\x04\x22\x4d\x18"
    # USTAR and PAX headers (all the old tool's Go writer produces) carry "ustar" at 257.
    return head[_TAR_MAGIC] == b"ustar"
