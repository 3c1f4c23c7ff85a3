"""Binding manifests to the encryption key, so that storage write access cannot choose a restore.

Anyone who can write to the bucket can write a manifest. An encrypted data object is
authenticated chunk by chunk (:mod:`brs.crypto`), but the manifest decides *which* object, date
and database a restore picks. A format-2 manifest of an encrypted backup therefore carries
``mac``: HMAC-SHA256 over its canonical form (:meth:`~brs.manifest.Manifest.signed_bytes`),
keyed with a key derived from the encryption key by HKDF-SHA256 under a fixed label. The MAC
key is never the AES key itself, so the two uses cannot interfere. It is verified with
whichever configured key has the manifest's key id, so key rotation keeps old backups usable.
"""

from __future__ import annotations

import dataclasses
from typing import Final

from brs.crypto import Keyring
from brs.manifest import Manifest

__all__ = ["MAC_LABEL", "mac_key", "sign", "verify"]

MAC_LABEL: Final = b"brs manifest mac v1"


def mac_key(key: bytes) -> bytes:
    """The manifest MAC key derived from encryption key ``key``."""
    from cryptography.hazmat.primitives import hashes  # only runs with a key: listings without one skip it
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=MAC_LABEL).derive(key)


def _mac(key: bytes, manifest: Manifest) -> str:
    import hashlib  # only with a key: a listing without one loads no OpenSSL
    import hmac

    return hmac.new(mac_key(key), manifest.signed_bytes(), hashlib.sha256).hexdigest()


def sign(manifest: Manifest, key: bytes) -> Manifest:
    """``manifest`` with its ``mac`` set for encryption key ``key``."""
    return dataclasses.replace(manifest, mac=_mac(key, manifest))


def verify(manifest: Manifest, keyring: Keyring) -> bool | None:
    """True when the MAC matches, False when it does not (or is missing), None when the key
    with the manifest's key id is not configured (nothing can be said)."""
    key_id = manifest.key_id
    if key_id is None or key_id not in keyring.ids:
        return None
    if manifest.mac is None:
        return False
    import hmac

    return hmac.compare_digest(manifest.mac, _mac(keyring.find(key_id), manifest))
