"""brs database plugin for etcd v3: snapshots through the maintenance API, restore with etcdutl."""

from __future__ import annotations

from brs_etcd.plugin import Etcd

__all__ = ["Etcd"]
