"""brs database plugin for etcd v3: snapshots through the maintenance API, restore with etcdutl."""

from __future__ import annotations

import os

# gRPC's C core writes its own error lines (e.g. every failed TLS handshake) straight to stderr;
# the same failure reaches the user as one brs error, so the core logging stays off unless the
# user asked for it. This must happen before grpc is imported.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")

from brs_etcd.plugin import Etcd

__all__ = ["Etcd"]
