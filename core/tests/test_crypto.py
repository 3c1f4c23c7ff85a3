"""Tests for the authenticated chunked stream format in :mod:`brs.crypto`."""

from __future__ import annotations

import array
import hashlib
import hmac
import os
from collections.abc import Callable, Iterator

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from brs.crypto import (
    DEFAULT_CHUNK_SIZE,
    FORMAT_VERSION,
    KEY_SIZE,
    SCHEME,
    Keyring,
    StreamDecryptor,
    StreamEncryptor,
    key_id,
    parse_key,
)
from brs.errors import ConfigError, DecryptionError

CHUNK = 1 << 16  # the smallest allowed chunk size keeps the tests fast
SEALED = CHUNK + 16
KEY = b"0123456789abcdef0123456789ABCDEF"
OTHER_KEY = b"fedcba9876543210FEDCBA9876543210"
BACKUP_ID = "20261124T031500Z-a1b2c3"
HEADER_SIZE = 28 + len(BACKUP_ID.encode())
# Offsets inside the header.
VERSION_AT, ALGORITHM_AT, LOG2_AT, RESERVED_AT = 8, 9, 10, 11
KEY_ID_AT, PREFIX_AT, ID_LEN_AT = 12, 20, 27


def pieces(data: bytes, size: int) -> Iterator[bytes]:
    if size <= 0:
        yield data
        return
    for start in range(0, len(data), size):
        yield data[start : start + size]


def encrypt(
    data: bytes,
    key: bytes = KEY,
    backup_id: str = BACKUP_ID,
    piece: int = 0,
    chunk_size: int = CHUNK,
) -> bytes:
    enc = StreamEncryptor(key, backup_id, chunk_size=chunk_size)
    out = [enc.update(p) for p in pieces(data, piece)]
    out.append(enc.finalize())
    return b"".join(out)


def decrypt(
    blob: bytes,
    keyring: Keyring | None = None,
    expected_backup_id: str | None = None,
    piece: int = 0,
    what: str = "backup",
) -> bytes:
    dec = StreamDecryptor(Keyring(KEY) if keyring is None else keyring, expected_backup_id, what)
    out = [dec.update(p) for p in pieces(blob, piece)]
    out.append(dec.finalize())
    return b"".join(out)


def decrypt_error(blob: bytes, **kwargs: object) -> str:
    with pytest.raises(DecryptionError) as info:
        decrypt(blob, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    return message


def flip(blob: bytes, at: int, mask: int = 0x01) -> bytes:
    changed = bytearray(blob)
    changed[at] ^= mask
    return bytes(changed)


def seal_stream(chunks: list[tuple[bytes, bool]], key: bytes = KEY, log2: int = 16) -> bytes:
    """Build a stream by hand from the format description, independently of StreamEncryptor."""
    prefix = os.urandom(7)
    bid = BACKUP_ID.encode()
    header = b"BRSAEAD\x00" + bytes([1, 1, log2, 0]) + bytes.fromhex(key_id(key)) + prefix + bytes([len(bid)]) + bid
    aead = AESGCM(key)
    sealed = [
        aead.encrypt(prefix + i.to_bytes(4, "big") + bytes([last]), plaintext, header)
        for i, (plaintext, last) in enumerate(chunks)
    ]
    return header + b"".join(sealed)


def test_constants() -> None:
    assert KEY_SIZE == 32
    assert DEFAULT_CHUNK_SIZE == 1 << 18
    assert SCHEME == "aes-256-gcm-stream"
    assert FORMAT_VERSION == 1


# --- round trips ------------------------------------------------------------------------------

SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("piece", [1, 7, 4096, 0], ids=["1", "7", "4096", "whole"])
def test_round_trip(size: int, piece: int) -> None:
    data = os.urandom(size)
    blob = encrypt(data, piece=piece)
    # Whole chunks, then a final one; an exact multiple ends with an empty final chunk.
    assert len(blob) == HEADER_SIZE + (size // CHUNK + 1) * 16 + size
    assert decrypt(blob, piece=piece) == data
    # Odd piece sizes on one side only must not matter either.
    assert decrypt(blob, piece=SEALED + 1) == data


def test_round_trip_default_chunk_size_and_mixed_pieces() -> None:
    data = os.urandom(2 * DEFAULT_CHUNK_SIZE + 12345)
    enc = StreamEncryptor(KEY, BACKUP_ID)
    out = [enc.update(data[:10]), enc.update(data[10 : 3 << 20]), enc.update(b"")]
    out.append(enc.finalize())
    blob = b"".join(out)
    dec = StreamDecryptor(Keyring(KEY))
    got = [dec.update(blob[:5]), dec.update(blob[5:40]), dec.update(blob[40:])]
    got.append(dec.finalize())
    assert b"".join(got) == data
    assert dec.chunks == 3


def test_update_returns_header_then_whole_chunks() -> None:
    enc = StreamEncryptor(KEY, BACKUP_ID, chunk_size=CHUNK)
    assert enc.update(b"x" * 10) == enc.header
    assert len(enc.header) == HEADER_SIZE
    assert enc.update(b"x" * 10) == b""
    # Fills the held-back chunk, then one more whole chunk; 20 bytes stay for the final chunk.
    assert len(enc.update(b"y" * (2 * CHUNK))) == 2 * SEALED
    assert len(enc.finalize()) == 20 + 16
    with pytest.raises(RuntimeError):
        enc.update(b"more")
    with pytest.raises(RuntimeError):
        enc.finalize()


def test_complete_chunk_is_sealed_at_once() -> None:
    enc = StreamEncryptor(KEY, BACKUP_ID, chunk_size=CHUNK)
    enc.update(b"x" * 10)
    assert len(enc.update(b"x" * (CHUNK - 10))) == SEALED


def test_empty_input_is_header_and_one_tag() -> None:
    enc = StreamEncryptor(KEY, BACKUP_ID)
    blob = enc.finalize()
    assert blob == enc.header + blob[len(enc.header) :]
    assert len(blob) == len(enc.header) + 16
    assert decrypt(blob) == b""


def test_buffer_types() -> None:
    data = array.array("I", range(50_000))
    raw = data.tobytes()
    enc = StreamEncryptor(KEY, BACKUP_ID, chunk_size=CHUNK)
    blob = enc.update(memoryview(data)) + enc.update(bytearray(b"tail")) + enc.finalize()
    dec = StreamDecryptor(Keyring(KEY))
    assert dec.update(bytearray(blob)) + dec.finalize() == raw + b"tail"


def test_format_matches_the_specification() -> None:
    data = os.urandom(2 * CHUNK + 100)
    enc = StreamEncryptor(KEY, BACKUP_ID, chunk_size=CHUNK)
    blob = enc.update(data) + enc.finalize()
    header = blob[:HEADER_SIZE]
    assert header == enc.header
    assert header[:8] == b"BRSAEAD\x00"
    assert header[VERSION_AT : RESERVED_AT + 1] == bytes([1, 1, 16, 0])
    assert header[KEY_ID_AT:PREFIX_AT].hex() == key_id(KEY) == enc.key_id
    assert header[ID_LEN_AT] == len(BACKUP_ID)
    assert header[28:].decode() == BACKUP_ID
    prefix = header[PREFIX_AT:ID_LEN_AT]
    aead = AESGCM(KEY)
    body = blob[HEADER_SIZE:]
    got = b""
    for i, start in enumerate(range(0, len(body), SEALED)):
        last = start + SEALED >= len(body)
        nonce = prefix + i.to_bytes(4, "big") + bytes([last])
        got += aead.decrypt(nonce, body[start : start + SEALED], header)
    assert got == data


def test_full_size_final_chunk_is_accepted() -> None:
    # The encryptor never writes one, but the format allows a final chunk of chunk_size bytes.
    data = os.urandom(2 * CHUNK)
    blob = seal_stream([(data[:CHUNK], False), (data[CHUNK:], True)])
    for piece in (0, 1000, SEALED, SEALED + 1):
        assert decrypt(blob, piece=piece) == data


def test_unicode_backup_id() -> None:
    blob = encrypt(b"data", backup_id="sauvegarde-été")
    dec = StreamDecryptor(Keyring(KEY), "sauvegarde-été")
    assert dec.update(blob) + dec.finalize() == b"data"
    assert dec.backup_id == "sauvegarde-été"


def test_decryptor_properties() -> None:
    dec = StreamDecryptor(Keyring(KEY))
    assert (dec.key_id, dec.backup_id, dec.chunks) == (None, None, 0)
    blob = encrypt(os.urandom(CHUNK + 3))
    dec.update(blob[:HEADER_SIZE])
    assert (dec.key_id, dec.backup_id, dec.chunks) == (key_id(KEY), BACKUP_ID, 0)
    dec.update(blob[HEADER_SIZE:])
    assert dec.chunks == 1
    dec.finalize()
    assert dec.chunks == 2
    with pytest.raises(RuntimeError):
        dec.update(b"")
    with pytest.raises(RuntimeError):
        dec.finalize()


def test_encryptor_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        StreamEncryptor(KEY, BACKUP_ID, chunk_size=1000)
    with pytest.raises(ValueError):
        StreamEncryptor(KEY, BACKUP_ID, chunk_size=1 << 25)
    with pytest.raises(ValueError):
        StreamEncryptor(KEY, "x" * 256)
    with pytest.raises(ValueError):
        StreamEncryptor(KEY[:16], BACKUP_ID)
    StreamEncryptor(KEY, "x" * 255)


# --- confidentiality ------------------------------------------------------------------------


def test_ciphertext_differs_from_plaintext_and_between_runs() -> None:
    data = b"A" * (CHUNK + 100)
    first, second = encrypt(data), encrypt(data)
    assert data not in first
    assert b"A" * 64 not in first
    assert first[HEADER_SIZE:] != second[HEADER_SIZE:]
    assert first[PREFIX_AT:ID_LEN_AT] != second[PREFIX_AT:ID_LEN_AT]  # fresh nonce prefix
    assert KEY not in first


# --- keys -------------------------------------------------------------------------------------


def test_key_id() -> None:
    kid = key_id(KEY)
    assert len(kid) == 16
    assert kid == kid.lower()
    int(kid, 16)
    assert kid == hmac.new(KEY, b"brs key id v1", hashlib.sha256).hexdigest()[:16]
    assert key_id(KEY) == kid
    assert key_id(OTHER_KEY) != kid


def test_keyring() -> None:
    ring = Keyring(KEY, [OTHER_KEY, KEY, OTHER_KEY])
    assert ring.encryption_key == KEY
    assert ring.encryption_key_id == key_id(KEY)
    assert ring.ids == [key_id(KEY), key_id(OTHER_KEY)]
    assert ring.find(key_id(OTHER_KEY)) == OTHER_KEY
    assert bool(ring)
    text = repr(ring)
    assert key_id(KEY) in text and key_id(OTHER_KEY) in text
    assert KEY.decode() not in text and OTHER_KEY.decode() not in text
    assert KEY.decode()[:8] not in text

    decrypt_only = Keyring(decryption_keys=[OTHER_KEY])
    assert decrypt_only.encryption_key is None and decrypt_only.encryption_key_id is None
    assert decrypt_only.ids == [key_id(OTHER_KEY)]
    assert bool(decrypt_only)

    empty = Keyring()
    assert not empty
    assert empty.ids == []


def test_keyring_find_unknown_id() -> None:
    ring = Keyring(KEY, [OTHER_KEY])
    with pytest.raises(DecryptionError) as info:
        ring.find("0011223344556677", "manifest x")
    assert str(info.value) == (
        f"manifest x is encrypted with key 0011223344556677; configured keys: {key_id(KEY)}, {key_id(OTHER_KEY)}"
    )
    with pytest.raises(DecryptionError, match=r"configured keys: none$"):
        Keyring().find("0011223344556677")


def test_wrong_key() -> None:
    blob = encrypt(b"secret data")
    message = decrypt_error(blob, keyring=Keyring(OTHER_KEY), what="backup b1")
    assert message == (f"backup b1 is encrypted with key {key_id(KEY)}; configured keys: {key_id(OTHER_KEY)}")
    for key in (KEY, OTHER_KEY):
        assert key.decode() not in message
        assert key.decode()[:8] not in message
    assert "configured keys: none" in decrypt_error(blob, keyring=Keyring())


def test_key_rotation() -> None:
    old_blob = encrypt(b"old backup", key=OTHER_KEY)
    ring = Keyring(KEY, [OTHER_KEY])
    assert decrypt(old_blob, keyring=ring) == b"old backup"
    assert ring.encryption_key is not None
    new_blob = encrypt(b"new backup", key=ring.encryption_key)
    assert decrypt(new_blob, keyring=ring) == b"new backup"
    # The old key alone cannot read the new object.
    assert key_id(KEY) in decrypt_error(new_blob, keyring=Keyring(decryption_keys=[OTHER_KEY]))


def test_parse_key() -> None:
    text = "01234567891234560123456789123456"
    assert parse_key(text, "--encryption-key") == text.encode()
    assert parse_key(text + "\n", "file /etc/brs/key") == text.encode()
    assert parse_key(f"  {text}\r\n", "env") == text.encode()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("s3cr3tKEY!x", "must be 32 ASCII characters, got 11"),
        ("s3cr3tKEY!x" * 3 + "abcdefghi", "must be 32 ASCII characters, got 42"),
        ("", "must be 32 ASCII characters, got 0"),
        ("0123456789abcdef0123456789abcdé", "non-ASCII"),
        ("0123456789abcdef0123456789abcdeé", "non-ASCII"),
    ],
)
def test_parse_key_rejects(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_key(text, "--encryption-key")
    message = str(info.value)
    assert message.startswith("encryption key from --encryption-key ")
    assert expected in message
    if text:
        assert text not in message
        assert text[:6] not in message
    assert info.value.__cause__ is None and info.value.__context__ is None


# --- tampering --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data() -> bytes:
    return os.urandom(3 * CHUNK + 5)


@pytest.fixture(scope="module")
def blob(data: bytes) -> bytes:
    return encrypt(data)


def test_stream_layout(blob: bytes) -> None:
    assert len(blob) == HEADER_SIZE + 3 * SEALED + 5 + 16


def test_not_a_brs_object(blob: bytes) -> None:
    assert decrypt_error(flip(blob, 0)) == "backup is not a brs encrypted object"
    assert "not a brs encrypted object" in decrypt_error(b"plain tar data" * 10, piece=1)
    assert "not a brs encrypted object" in decrypt_error(b"")
    assert "not a brs encrypted object" in decrypt_error(b"BRS")
    assert "not a brs encrypted object" in decrypt_error(b"xy")


def test_unsupported_header_fields(blob: bytes) -> None:
    assert decrypt_error(flip(blob, VERSION_AT, 0x02)) == ("backup uses unsupported encryption format version 3")
    assert "unsupported encryption algorithm 3" in decrypt_error(flip(blob, ALGORITHM_AT, 0x02))
    assert "unsupported chunk size" in decrypt_error(flip(blob, LOG2_AT, 0x10))
    assert "unsupported" in decrypt_error(flip(blob, RESERVED_AT))


def test_chunk_size_range_on_read() -> None:
    for log2 in (16, 17, 24):
        stream = seal_stream([(b"abc", True)], log2=log2)
        assert decrypt(stream) == b"abc"
    for log2 in (15, 25):
        assert "unsupported chunk size" in decrypt_error(seal_stream([(b"", True)], log2=log2))


def test_flipped_header_bits(blob: bytes) -> None:
    # The key id names a key that is not configured.
    assert "is encrypted with key" in decrypt_error(flip(blob, KEY_ID_AT))
    # Nonce prefix, backup id length and backup id are authenticated by every chunk.
    for at in (PREFIX_AT, ID_LEN_AT - 1, HEADER_SIZE - 1):
        assert decrypt_error(flip(blob, at)) == ("backup failed authentication at chunk 0 (corrupt or tampered data)")
    # A damaged backup id is reported as damage, not as an object of another backup.
    assert "failed authentication at chunk 0" in decrypt_error(flip(blob, HEADER_SIZE - 1), expected_backup_id=BACKUP_ID)
    # A changed length shifts the chunk boundaries; still an error, never plaintext.
    decrypt_error(flip(blob, ID_LEN_AT))


def test_flipped_chunk_bits(blob: bytes) -> None:
    for chunk in range(3):
        for at in (0, 1000, SEALED - 1):  # first byte, middle, last byte of the tag
            message = decrypt_error(flip(blob, HEADER_SIZE + chunk * SEALED + at))
            assert message == (f"backup failed authentication at chunk {chunk} (corrupt or tampered data)")
    message = decrypt_error(flip(blob, len(blob) - 1), what="backup b7")
    assert message.startswith("backup b7 failed authentication at chunk 3 ")


def test_no_plaintext_before_authentication(blob: bytes) -> None:
    dec = StreamDecryptor(Keyring(KEY))
    damaged = flip(blob, HEADER_SIZE + SEALED + 5)
    first = dec.update(damaged[: HEADER_SIZE + SEALED + 1])
    assert len(first) == CHUNK  # chunk 0 authenticated
    with pytest.raises(DecryptionError, match="at chunk 1 "):
        dec.update(damaged[HEADER_SIZE + SEALED + 1 :])


def test_swapped_dropped_and_duplicated_chunks(blob: bytes) -> None:
    header, body = blob[:HEADER_SIZE], blob[HEADER_SIZE:]
    c = [body[i * SEALED : (i + 1) * SEALED] for i in range(3)]
    final = body[3 * SEALED :]
    assert "failed authentication at chunk 0" in decrypt_error(header + c[1] + c[0] + c[2] + final)
    assert "failed authentication at chunk 1" in decrypt_error(header + c[0] + c[2] + final)
    assert "failed authentication at chunk 1" in decrypt_error(header + c[0] + c[0] + c[1] + c[2] + final)
    # A chunk from another object with the same key and backup id.
    other = encrypt(os.urandom(3 * CHUNK + 5))
    assert "failed authentication at chunk 2" in decrypt_error(
        header + c[0] + c[1] + other[HEADER_SIZE + 2 * SEALED : HEADER_SIZE + 3 * SEALED] + final
    )


def test_truncation_at_chunk_boundaries(blob: bytes) -> None:
    assert decrypt_error(blob[:HEADER_SIZE]) == ("backup is truncated after its header (the final chunk is missing)")
    for chunks in (1, 2, 3):
        # Ends right after a complete non-final chunk: the final chunk was dropped.
        message = decrypt_error(blob[: HEADER_SIZE + chunks * SEALED])
        assert message == (f"backup is truncated after chunk {chunks - 1} (the final chunk is missing)")
    # Same through the incremental path, byte by byte.
    message = decrypt_error(blob[: HEADER_SIZE + 2 * SEALED], piece=4096)
    assert "truncated after chunk 1" in message


def test_truncation_inside_header(blob: bytes) -> None:
    for cut in range(8, HEADER_SIZE):
        assert decrypt_error(blob[:cut], piece=3) == ("backup is truncated inside its header (the final chunk is missing)")
    for cut in range(1, 8):
        assert "not a brs encrypted object" in decrypt_error(blob[:cut])


def test_truncation_everywhere(blob: bytes) -> None:
    points = set(range(0, HEADER_SIZE + 40))
    for boundary in range(HEADER_SIZE, len(blob), SEALED):
        points.update(range(boundary - 20, boundary + 20))
        points.add(boundary + SEALED // 2)
    points.update(range(len(blob) - 40, len(blob)))
    for cut in sorted(p for p in points if 0 <= p < len(blob)):
        message = decrypt_error(blob[:cut])
        if cut >= 8:
            assert "truncated" in message, (cut, message)
        else:
            assert "not a brs encrypted object" in message


def test_dropping_exactly_the_final_chunk(blob: bytes) -> None:
    message = decrypt_error(blob[: len(blob) - (5 + 16)])
    assert message == "backup is truncated after chunk 2 (the final chunk is missing)"
    # An exact multiple ends with an empty final chunk: dropping its tag is detected too.
    exact = encrypt(os.urandom(2 * CHUNK))
    assert "truncated after chunk 1" in decrypt_error(exact[:-16])


def test_data_after_the_final_chunk() -> None:
    full_final = seal_stream([(b"a" * CHUNK, False), (b"b" * CHUNK, True)])
    assert decrypt_error(full_final + b"x") == ("backup has unexpected data after its final chunk 1")
    short_final = encrypt(b"abc")
    assert "failed authentication at chunk 0" in decrypt_error(short_final + b"xyz")


def test_backup_id_mismatch() -> None:
    blob = encrypt(b"data", backup_id="backup-a")
    assert decrypt(blob, expected_backup_id="backup-a") == b"data"
    assert decrypt_error(blob, expected_backup_id="backup-b", what="data object") == (
        "data object belongs to backup backup-a, not backup-b"
    )
    big = encrypt(os.urandom(2 * CHUNK), backup_id="backup-a")
    dec = StreamDecryptor(Keyring(KEY), "backup-b")
    with pytest.raises(DecryptionError, match="belongs to backup backup-a, not backup-b"):
        dec.update(big)  # detected before any plaintext is returned


def test_errors_are_sticky(blob: bytes) -> None:
    dec = StreamDecryptor(Keyring(KEY))
    damaged = flip(blob, HEADER_SIZE + 3)
    with pytest.raises(DecryptionError) as first:
        dec.update(damaged)
    calls: list[Callable[[], bytes]] = [lambda: dec.update(b"more"), dec.finalize]
    for call in calls:
        with pytest.raises(DecryptionError) as again:
            call()
        assert str(again.value) == str(first.value)

    dec = StreamDecryptor(Keyring(KEY))
    dec.update(blob[: HEADER_SIZE + SEALED])
    with pytest.raises(DecryptionError, match="truncated"):
        dec.finalize()
    with pytest.raises(DecryptionError, match="truncated"):
        dec.finalize()
