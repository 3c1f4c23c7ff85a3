"""The plugin's options: how to reach the cluster, and the identity a restored member gets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from brs.errors import ConfigError
from brs.options import PluginOptions, option, secret

__all__ = ["Endpoint", "EtcdOptions"]


@dataclass(frozen=True)
class Endpoint:
    """One client URL, split for gRPC."""

    url: str
    target: str
    tls: bool

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        text = url.strip()
        scheme, sep, rest = text.partition("://")
        if not sep:
            scheme, rest = "", text
        if scheme not in ("", "http", "https") or not rest or "/" in rest.rstrip("/"):
            raise ConfigError(f"--etcd-endpoints: {url!r} is not a URL like http://host:2379")
        host_port = rest.rstrip("/")
        if ":" not in host_port.rsplit("]", 1)[-1]:
            host_port += ":2379"
        return cls(url=text, target=host_port, tls=scheme == "https")


@dataclass(frozen=True)
class EtcdOptions(PluginOptions):
    """Client options (endpoints, TLS, credentials, timeouts), then the restored member's identity.

    The member defaults are etcd's own, so that a member started without cluster flags accepts
    the restore; otherwise they must match the flags etcd is started with.
    """

    prefix: ClassVar[str] = "etcd"

    endpoints: str = option("http://127.0.0.1:2379", "Comma-separated client URLs; the first that answers is used.")
    ca_cert: Path | None = option(None, "CA certificate of the server (implies TLS).", metavar="FILE")
    cert: Path | None = option(None, "Client TLS certificate.", metavar="FILE")
    key: Path | None = option(None, "Private key of --etcd-cert.", metavar="FILE")
    username: str | None = option(None, "User for etcd authentication (snapshots need the root role).")
    password: str | None = secret("Password of --etcd-username.")
    dial_timeout: float = option(10.0, "Seconds to wait for a connection.", minimum=0.1)
    snapshot_timeout: float = option(3600.0, "Seconds a snapshot may take.", minimum=1)
    name: str = option("default", "Restore: member name (etcd --name).")
    initial_advertise_peer_urls: str = option(
        "http://localhost:2380", "Restore: peer URLs of the member (etcd --initial-advertise-peer-urls)."
    )
    initial_cluster: str | None = option(
        None, "Restore: etcd --initial-cluster (default: NAME=PEER_URLS, a single-member cluster)."
    )
    initial_cluster_token: str = option("etcd-cluster", "Restore: etcd --initial-cluster-token.")
    restore_tool: str | None = option(
        None, "Restore: etcdutl (etcd >= 3.5) or etcdctl (3.4) program (default: etcdutl on PATH, else etcdctl)."
    )

    def __post_init__(self) -> None:
        if (self.cert is None) != (self.key is None):
            raise ConfigError("--etcd-cert and --etcd-key must be set together")
        if bool(self.username) != bool(self.password):
            raise ConfigError("--etcd-username and --etcd-password (or --etcd-password-file) must be set together")
        _parse_endpoints(self.endpoints)  # a malformed --etcd-endpoints fails when the options are read

    @property
    def client_urls(self) -> tuple[Endpoint, ...]:
        """The endpoints in the order they are tried."""
        return _parse_endpoints(self.endpoints)

    @property
    def tls(self) -> bool:
        return self.ca_cert is not None or self.cert is not None or any(e.tls for e in self.client_urls)

    @property
    def cluster(self) -> str:
        """``--initial-cluster`` of the restored member: as set, else this member alone."""
        urls = self.initial_advertise_peer_urls.split(",")
        return self.initial_cluster or ",".join(f"{self.name}={url}" for url in urls)


def _parse_endpoints(text: str) -> tuple[Endpoint, ...]:
    endpoints = tuple(Endpoint.parse(url) for url in text.split(",") if url.strip())
    if not endpoints:
        raise ConfigError("--etcd-endpoints names no URL")
    return endpoints
