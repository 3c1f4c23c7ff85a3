"""brs storage provider for Google Cloud Storage (``--backup-provider gcs``)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

from brs_storage_gcs.options import GcsOptions


@contextlib.contextmanager
def _without_grpc() -> Iterator[None]:
    """Import the Google libraries as if grpcio were not installed (unless it is loaded already).

    google-api-core imports grpc whenever it can (it is an optional extra), and the JSON API that
    this plugin speaks never uses it: it cost 9 MiB of resident memory and 0.1 s per start in an
    image where another package brought grpcio along. ``None`` in :data:`sys.modules` is Python's
    documented way to make an import fail; the entry goes again afterwards, so code that does need
    grpc later in the same process (etcd's client) imports it as usual.
    """
    if "grpc" in sys.modules:
        yield
        return
    sys.modules["grpc"] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if "grpc" in sys.modules and sys.modules["grpc"] is None:
            del sys.modules["grpc"]


with _without_grpc():
    from brs_storage_gcs.storage import GcsStorage

__all__ = ["GcsOptions", "GcsStorage"]
