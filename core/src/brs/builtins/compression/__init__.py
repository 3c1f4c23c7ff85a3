"""The built-in compression methods, one module per codec: ``tar``, ``targz``, ``tarlz4`` and ``tarzst``.

Measured facts behind the choices (2-core machine, see docs/performance.md):

* gzip goes through ISA-L (python-isal): standard gzip output, about 10x faster than zlib level 1
  and not pathological on incompressible data.
* lz4 frames without a content checksum: the checksum halves throughput, and the stored object
  is covered by SHA-256 (and by AES-GCM when encrypted).
* zstd level 3 with a content checksum, single-threaded (threads cost memory and lose on
  incompressible data when the other stages already use both cores).

Every decompressing reader bounds its output per ``read(n)`` call, so a highly compressible
backup cannot blow up memory.

Each method imports only its own codec library: a restore of a ``.tar.lz4`` backup never loads
zstd or ISA-L. The classes are also reachable here (``brs.builtins.compression.Gzip``, the
entry points' names) through a module ``__getattr__`` (PEP 562) that imports the one module
asked for.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Gzip", "Lz4", "PlainTar", "Zstd"]

_MODULES = {"PlainTar": "tar", "Gzip": "gzip", "Lz4": "lz4", "Zstd": "zstd"}


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_MODULES[name]}"), name)
