"""Fixtures: real etcd members on free ports (brs_etcd.testing), always stopped."""

from __future__ import annotations

from brs_etcd.testing import start_member as start_member
