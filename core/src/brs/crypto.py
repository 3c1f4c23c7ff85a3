r"""Authenticated, chunked encryption of backup objects (AES-256-GCM in the STREAM construction).

An encrypted object is a header followed by sealed chunks::

    header  = magic "BRSAEAD\0" | version (1) | algorithm (1) | log2 chunk size (1) | reserved (1)
              | key id (8) | nonce prefix (7) | backup id length (1) | backup id (UTF-8)
    chunk i = AES-256-GCM(key, nonce_i, plaintext_i, associated data = the whole header)
    nonce_i = nonce prefix (7) | i as 4-byte big-endian | last-chunk flag (1)

Every chunk but the last carries exactly ``chunk size`` plaintext bytes; the last one carries 0 up
to ``chunk size`` bytes and is sealed with the last-chunk flag set, so there is always a final
chunk, even for empty input. This is the STREAM construction of Hoang, Reyhanitabar, Rogaway and
Vizar (2015), as used by ``age`` and Tink's streaming AEAD. Because the counter and the final flag
are part of each nonce and the header is authenticated by every chunk, reordering, dropping,
flipping or truncating anything, a wrong key, and an object swapped in from another backup are
all detected, and each case gets its own message.

The user's key is 32 ASCII characters used directly as the AES-256 key, as in the tool brs
replaces. A key is named by its *key id*, a keyed hash that reveals nothing about the key, so
errors can say which key an object needs without exposing any key material.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, TypeAlias


from brs.errors import ConfigError, DecryptionError, KeyMissing

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def _invalid_tag() -> type[Exception]:
    from cryptography.exceptions import InvalidTag

    return InvalidTag


__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "FORMAT_VERSION",
    "KEY_SIZE",
    "SCHEME",
    "Keyring",
    "StreamDecryptor",
    "StreamEncryptor",
    "is_stream_of",
    "key_id",
    "parse_key",
]

KEY_SIZE: Final = 32
"""Length of an AES-256 key in bytes (and of the user's key in ASCII characters)."""

DEFAULT_CHUNK_SIZE: Final = 1 << 18
"""Plaintext bytes per chunk: 256 KiB, the size of the pipeline's pieces (AES-GCM runs at several
GB/s either way; a smaller chunk keeps less plaintext buffered). Readers take it from the header."""

SCHEME: Final = "aes-256-gcm-stream"
"""Name of this encryption scheme, as recorded in manifests."""

FORMAT_VERSION: Final = 1
"""Version of the stream format written by :class:`StreamEncryptor`."""

_Bytes: TypeAlias = bytes | bytearray | memoryview

_MAGIC: Final = b"BRSAEAD\x00"
_ALGORITHM_AES_256_GCM: Final = 1
_MIN_LOG2_CHUNK: Final = 16
_MAX_LOG2_CHUNK: Final = 24
_KEY_ID_SIZE: Final = 8
_NONCE_PREFIX_SIZE: Final = 7
_TAG_SIZE: Final = 16
_MAX_BACKUP_ID_SIZE: Final = 255
# magic, version, algorithm, log2 chunk size, reserved, key id, nonce prefix, backup id length
_FIXED_HEADER_SIZE: Final = len(_MAGIC) + 4 + _KEY_ID_SIZE + _NONCE_PREFIX_SIZE + 1
_KEY_ID_OFFSET: Final = len(_MAGIC) + 4
_PREFIX_OFFSET: Final = _KEY_ID_OFFSET + _KEY_ID_SIZE
# The counter is 4 bytes wide; reusing a nonce would break GCM, so a stream may not wrap it.
_MAX_CHUNKS: Final = 1 << 32
_KEY_ID_LABEL: Final = b"brs key id v1"


def parse_key(text: str, source: str) -> bytes:
    """Turn the user's key text into an AES-256 key.

    The key is 32 ASCII characters, used directly as the 32 key bytes. Surrounding whitespace
    (such as the trailing newline of a key file) is ignored. *source* names where the key came
    from (a flag, a variable, a file) for the error message.

    Raises:
        ConfigError: the key is not exactly 32 ASCII characters. The message never contains the
            key or any part of it.
    """
    stripped = text.strip()
    # isascii() instead of encode(): a failed encode raises an error that quotes the key, and an
    # implicitly chained exception would print it in a traceback.
    if not stripped.isascii():
        raise ConfigError(f"encryption key from {source} contains non-ASCII characters")
    if len(stripped) != KEY_SIZE:
        raise ConfigError(f"encryption key from {source} must be {KEY_SIZE} ASCII characters, got {len(stripped)}")
    return stripped.encode("ascii")


def key_id(key: bytes) -> str:
    """Return the id of *key*: 16 lowercase hex characters.

    It is the first 8 bytes of HMAC-SHA256 keyed with *key* over a fixed label, so it identifies
    the key without revealing anything about it.
    """
    return _key_id_bytes(key).hex()


def _key_id_bytes(key: bytes) -> bytes:
    import hashlib  # loads OpenSSL's libcrypto: only runs with a key
    import hmac

    return hmac.new(key, _KEY_ID_LABEL, hashlib.sha256).digest()[:_KEY_ID_SIZE]


def is_stream_of(head: bytes, backup_id: str) -> bool:
    """Whether ``head``, the first bytes of an object, is the header of a stream of ``backup_id``.

    Not authenticated (that needs the key and chunk 0): enough to recognise an object as one
    brs wrote, never to trust its content.
    """
    encoded = backup_id.encode("utf-8")
    end = _FIXED_HEADER_SIZE + len(encoded)
    return (
        head.startswith(_MAGIC)
        and len(head) >= end
        and head[_FIXED_HEADER_SIZE - 1] == len(encoded)
        and head[_FIXED_HEADER_SIZE:end] == encoded
    )


def _check_key(key: bytes) -> bytes:
    key = bytes(key)
    if len(key) != KEY_SIZE:
        # Raised for programming errors only: user keys pass through parse_key first.
        raise ValueError(f"an encryption key must be {KEY_SIZE} bytes, got {len(key)}")
    return key


class Keyring:
    """The keys a run may use: at most one to encrypt with, any number to decrypt with.

    For key rotation, configure the new key as the encryption key and keep the old ones as
    decryption keys; objects written with any of them stay readable. The encryption key can
    always decrypt too. Keys are looked up by :func:`key_id`.
    """

    __slots__ = ("_encryption_key", "_encryption_key_id", "_keys")

    def __init__(self, encryption_key: bytes | None = None, decryption_keys: Sequence[bytes] = ()) -> None:
        self._encryption_key = None if encryption_key is None else _check_key(encryption_key)
        self._encryption_key_id = None if self._encryption_key is None else key_id(self._encryption_key)
        # Insertion order puts the encryption key first, which is the order errors list ids in.
        self._keys: dict[str, bytes] = {}
        if self._encryption_key is not None and self._encryption_key_id is not None:
            self._keys[self._encryption_key_id] = self._encryption_key
        for key in decryption_keys:
            checked = _check_key(key)
            self._keys.setdefault(key_id(checked), checked)

    @property
    def encryption_key(self) -> bytes | None:
        """The key new objects are encrypted with, or None to write unencrypted objects."""
        return self._encryption_key

    @property
    def encryption_key_id(self) -> str | None:
        """The id of :attr:`encryption_key`, or None."""
        return self._encryption_key_id

    @property
    def ids(self) -> list[str]:
        """Ids of all keys, the encryption key first, without duplicates."""
        return list(self._keys)

    def find(self, key_id: str, what: str = "backup") -> bytes:
        """Return the key with id *key_id*.

        Raises:
            DecryptionError: no configured key has that id; *what* names the object in the
                message, which lists the configured key ids.
        """
        try:
            return self._keys[key_id]
        except KeyError:
            configured = ", ".join(self._keys) or "none"
            raise KeyMissing(f"{what} is encrypted with key {key_id}; configured keys: {configured}") from None

    def __bool__(self) -> bool:
        return bool(self._keys)

    def __repr__(self) -> str:
        return f"Keyring(encryption_key_id={self._encryption_key_id!r}, ids={self.ids!r})"


def _as_byte_view(data: _Bytes) -> memoryview:
    view = memoryview(data)
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    return view


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


class StreamEncryptor:
    """Encrypt one object incrementally.

    Feed plaintext of any size to :meth:`update` and write out what it returns, then write what
    :meth:`finalize` returns. Complete chunks are sealed as soon as their last byte arrives, so
    at most one chunk of plaintext is held back. A plaintext of an exact multiple of the chunk
    size therefore ends with an empty final chunk.
    """

    def __init__(self, key: bytes, backup_id: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        key = _check_key(key)
        log2 = chunk_size.bit_length() - 1
        if chunk_size != 1 << log2 or not _MIN_LOG2_CHUNK <= log2 <= _MAX_LOG2_CHUNK:
            raise ValueError(
                f"chunk size must be a power of two between 2**{_MIN_LOG2_CHUNK} and 2**{_MAX_LOG2_CHUNK}, got {chunk_size}"
            )
        encoded_id = backup_id.encode("utf-8")
        if len(encoded_id) > _MAX_BACKUP_ID_SIZE:
            raise ValueError(f"backup id must be at most {_MAX_BACKUP_ID_SIZE} bytes in UTF-8, got {len(encoded_id)}")
        self._nonce_prefix = os.urandom(_NONCE_PREFIX_SIZE)
        key_id_raw = _key_id_bytes(key)
        #: The id of the key this stream is encrypted with.
        self.key_id: str = key_id_raw.hex()
        #: The header that starts the stream; it is the associated data of every chunk.
        self.header: bytes = b"".join(
            [
                _MAGIC,
                bytes([FORMAT_VERSION, _ALGORITHM_AES_256_GCM, log2, 0]),
                key_id_raw,
                self._nonce_prefix,
                bytes([len(encoded_id)]),
                encoded_id,
            ]
        )
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # the keyring and listings need no cipher

        self._aead = AESGCM(key)
        self._chunk_size = chunk_size
        # Plaintext that does not fill a chunk yet; a fixed buffer plus a fill count, so
        # collecting small pieces never reallocates or shifts memory.
        self._buffer = bytearray(chunk_size)
        self._buffer_view = memoryview(self._buffer)
        self._fill = 0
        self._index = 0
        self._started = False
        self._finished = False

    def update(self, data: _Bytes) -> bytes:
        """Add plaintext; return the ciphertext that is ready (may be empty).

        The first call also returns the header.

        Raises:
            RuntimeError: called after :meth:`finalize`.
        """
        if self._finished:
            raise RuntimeError("StreamEncryptor.update() called after finalize()")
        out: list[bytes] = []
        if not self._started:
            out.append(self.header)
            self._started = True
        view = _as_byte_view(data)
        size = len(view)
        chunk = self._chunk_size
        pos = 0
        if self._fill:
            take = min(chunk - self._fill, size)
            self._buffer_view[self._fill : self._fill + take] = view[:take]
            self._fill += take
            pos = take
            if self._fill == chunk:
                out.append(self._seal(self._buffer_view, last=False))
                self._fill = 0
        # Whole chunks are sealed straight from the caller's buffer, without a copy.
        while size - pos >= chunk:
            out.append(self._seal(view[pos : pos + chunk], last=False))
            pos += chunk
        if pos < size:
            rest = size - pos
            self._buffer_view[:rest] = view[pos:]
            self._fill = rest
        # join() of a single bytes object returns it as is, so the common one-chunk case is free.
        return b"".join(out)

    def finalize(self) -> bytes:
        """Seal the final chunk and return it (preceded by the header if nothing was fed).

        Raises:
            RuntimeError: called twice.
        """
        if self._finished:
            raise RuntimeError("StreamEncryptor.finalize() called twice")
        head = b"" if self._started else self.header
        self._started = True
        sealed = self._seal(self._buffer_view[: self._fill], last=True)
        self._finished = True
        self._buffer_view.release()
        self._buffer = bytearray()
        self._fill = 0
        return head + sealed if head else sealed

    def _seal(self, plaintext: memoryview, *, last: bool) -> bytes:
        if self._index >= _MAX_CHUNKS:
            raise RuntimeError("stream too long: the 4-byte chunk counter would wrap")
        sealed = self._aead.encrypt(_nonce(self._nonce_prefix, self._index, last), plaintext, self.header)
        self._index += 1
        return sealed


class StreamDecryptor:
    """Decrypt and authenticate one object incrementally.

    Feed ciphertext in pieces of any size to :meth:`update`; it returns plaintext only once it
    has been authenticated. Whether a full chunk is the final one is only known when the stream
    continues after it, so the last complete sealed chunk is held back until at least one more
    byte arrives, or until :meth:`finalize`, which authenticates the final chunk. Only after
    :meth:`finalize` returned is the whole object known to be complete.

    Every problem raises :class:`~brs.errors.DecryptionError` with a one-line message that names
    the object as *what*. After an error, every further call raises it again.
    """

    def __init__(self, keyring: Keyring, expected_backup_id: str | None = None, what: str = "backup") -> None:
        self._keyring = keyring
        self._expected_backup_id = expected_backup_id
        self._what = what
        self._header = bytearray()
        self._header_size = _FIXED_HEADER_SIZE
        self._aad = b""
        self._aead: AESGCM | None = None
        self._nonce_prefix = b""
        self._sealed_size = 0
        self._buffer = bytearray()
        self._buffer_view = memoryview(self._buffer)
        self._fill = 0
        self._index = 0
        self._key_id: str | None = None
        self._backup_id: str | None = None
        self._error: str | None = None
        self._finished = False

    @property
    def key_id(self) -> str | None:
        """Id of the key the object is encrypted with; None until the header was read."""
        return self._key_id

    @property
    def backup_id(self) -> str | None:
        """Backup id recorded in the header; None until the header was read.

        It is authenticated once the first chunk has been decrypted.
        """
        return self._backup_id

    @property
    def chunks(self) -> int:
        """Number of chunks decrypted and authenticated so far."""
        return self._index

    def update(self, data: _Bytes) -> bytes:
        """Add ciphertext; return the plaintext authenticated so far (may be empty).

        Raises:
            DecryptionError: the object is not a brs stream, needs a key that is not
                configured, belongs to another backup, or fails authentication.
            RuntimeError: called after :meth:`finalize`.
        """
        self._check_usable()
        try:
            return self._update(_as_byte_view(data))
        except DecryptionError as exc:
            self._error = str(exc)
            raise

    def finalize(self) -> bytes:
        """Authenticate the final chunk and return its plaintext.

        Raises:
            DecryptionError: the stream is truncated or its final chunk fails authentication.
            RuntimeError: called twice.
        """
        self._check_usable()
        try:
            plaintext = self._finalize()
        except DecryptionError as exc:
            self._error = str(exc)
            raise
        self._finished = True
        self._buffer_view.release()
        self._buffer = bytearray()
        return plaintext

    def _check_usable(self) -> None:
        if self._error is not None:
            # A fresh exception each time: re-raising one instance would grow its traceback.
            raise DecryptionError(self._error)
        if self._finished:
            raise RuntimeError("StreamDecryptor used after finalize()")

    def _update(self, view: memoryview) -> bytes:
        pos = 0
        if self._aead is None:
            pos = self._read_header(view)
            if self._aead is None:
                return b""
        size = len(view)
        sealed = self._sealed_size
        out: list[bytes] = []
        if self._fill:
            take = min(sealed - self._fill, size - pos)
            self._buffer_view[self._fill : self._fill + take] = view[pos : pos + take]
            self._fill += take
            pos += take
            # A complete chunk with at least one byte after it cannot be the final one.
            if self._fill == sealed and pos < size:
                out.append(self._open_following(self._buffer_view))
                self._fill = 0
        # Here the buffer is empty or all input is consumed. Chunks that lie wholly inside the
        # input, followed by at least one more byte, are opened without a copy.
        while size - pos > sealed:
            out.append(self._open_following(view[pos : pos + sealed]))
            pos += sealed
        if pos < size:
            rest = size - pos
            self._buffer_view[:rest] = view[pos:]
            self._fill = rest
        return b"".join(out)

    def _read_header(self, view: memoryview) -> int:
        """Consume header bytes from *view*; return how many were used."""
        pos = 0
        # Two rounds at most: the fixed part, then the backup id whose length it names.
        while self._aead is None and pos < len(view):
            have = len(self._header)
            take = min(self._header_size - have, len(view) - pos)
            self._header += view[pos : pos + take]
            pos += take
            end = have + take
            # Check the magic as soon as its bytes arrive, so a plaintext file fails at once.
            if have < len(_MAGIC) and self._header[: len(_MAGIC)] != _MAGIC[:end]:
                raise DecryptionError(f"{self._what} is not a brs encrypted object")
            if have < _FIXED_HEADER_SIZE <= end:
                self._parse_fixed_header()
            if end == self._header_size and end >= _FIXED_HEADER_SIZE:
                self._start_chunks()
        return pos

    def _parse_fixed_header(self) -> None:
        what = self._what
        header = self._header
        version, algorithm, log2, reserved = header[len(_MAGIC) : len(_MAGIC) + 4]
        if version != FORMAT_VERSION:
            raise DecryptionError(f"{what} uses unsupported encryption format version {version}")
        if algorithm != _ALGORITHM_AES_256_GCM:
            raise DecryptionError(f"{what} uses unsupported encryption algorithm {algorithm}")
        if not _MIN_LOG2_CHUNK <= log2 <= _MAX_LOG2_CHUNK:
            raise DecryptionError(f"{what} uses an unsupported chunk size of 2**{log2} bytes")
        if reserved != 0:
            raise DecryptionError(f"{what} uses unsupported encryption format flags {reserved}")
        self._sealed_size = (1 << log2) + _TAG_SIZE
        self._nonce_prefix = bytes(header[_PREFIX_OFFSET : _PREFIX_OFFSET + _NONCE_PREFIX_SIZE])
        self._key_id = bytes(header[_KEY_ID_OFFSET:_PREFIX_OFFSET]).hex()
        self._header_size = _FIXED_HEADER_SIZE + header[_FIXED_HEADER_SIZE - 1]

    def _start_chunks(self) -> None:
        assert self._key_id is not None
        self._aad = bytes(self._header)
        # Not authenticated yet, so decode leniently; a damaged id fails chunk 0 anyway.
        self._backup_id = self._aad[_FIXED_HEADER_SIZE:].decode("utf-8", "replace")
        key = self._keyring.find(self._key_id, self._what)
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # the keyring and listings need no cipher

        self._aead = AESGCM(key)
        self._buffer = bytearray(self._sealed_size)
        self._buffer_view = memoryview(self._buffer)

    def _finalize(self) -> bytes:
        what = self._what
        if self._aead is None:
            got = len(self._header)
            if got < len(_MAGIC):
                # Covers the empty object; a non-matching prefix was rejected in update().
                if got == 0:
                    raise DecryptionError(f"{what} is not a brs encrypted object (it is empty)")
                raise DecryptionError(f"{what} is not a brs encrypted object")
            raise DecryptionError(f"{what} is truncated inside its header (the final chunk is missing)")
        index = self._index
        tail = self._buffer_view[: self._fill]
        if self._fill < _TAG_SIZE:
            raise self._truncated()
        plaintext = self._open(tail, last=True)
        if plaintext is not None:
            return plaintext
        if self._fill == self._sealed_size and self._open(tail, last=False) is not None:
            # A complete chunk that authenticates as non-final: the stream was cut right after
            # it. Its plaintext is not returned; the object is unusable anyway.
            raise self._truncated()
        if self._fill < self._sealed_size:
            # A short tail is either a damaged final chunk or a chunk cut short; the two cannot be
            # told apart cryptographically.
            raise DecryptionError(f"{what} failed authentication at chunk {index} (corrupt, tampered or truncated data)")
        raise self._auth_failed(index)

    def _open_following(self, sealed: memoryview) -> bytes:
        """Open a complete chunk that more data follows, so it must not be the final one."""
        plaintext = self._open(sealed, last=False)
        if plaintext is not None:
            return plaintext
        index = self._index
        if self._open(sealed, last=True) is not None:
            raise DecryptionError(f"{self._what} has unexpected data after its final chunk {index}")
        raise self._auth_failed(index)

    def _open(self, sealed: memoryview, *, last: bool) -> bytes | None:
        """Decrypt the next chunk; None if it does not authenticate with this final flag."""
        assert self._aead is not None
        index = self._index
        if index >= _MAX_CHUNKS:
            raise DecryptionError(f"{self._what} has more chunks than the format allows")
        try:
            plaintext = self._aead.decrypt(_nonce(self._nonce_prefix, index, last), sealed, self._aad)
        except _invalid_tag():
            return None
        self._index = index + 1
        if index == 0:
            self._check_backup_id()
        return plaintext

    def _check_backup_id(self) -> None:
        # Checked after chunk 0 authenticated the header, so a damaged header is reported as
        # damage, not as an object of another backup.
        expected = self._expected_backup_id
        if expected is not None and self._backup_id != expected:
            raise DecryptionError(f"{self._what} belongs to backup {self._backup_id}, not {expected}")

    def _truncated(self) -> DecryptionError:
        where = "its header" if self._index == 0 else f"chunk {self._index - 1}"
        return DecryptionError(f"{self._what} is truncated after {where} (the final chunk is missing)")

    def _auth_failed(self, index: int) -> DecryptionError:
        return DecryptionError(f"{self._what} failed authentication at chunk {index} (corrupt or tampered data)")
