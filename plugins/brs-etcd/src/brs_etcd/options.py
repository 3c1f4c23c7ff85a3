"""Command-line options of the plugin and the settings read from them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from brs.errors import ConfigError
from brs.options import read_secret, secret_option

__all__ = ["ClientSettings", "Endpoint", "MemberSettings", "plugin_options"]

DEFAULT_ENDPOINTS = "http://127.0.0.1:2379"
# etcd's own defaults, so that a member started without cluster flags accepts the restore.
DEFAULT_NAME = "default"
DEFAULT_PEER_URLS = "http://localhost:2380"
DEFAULT_TOKEN = "etcd-cluster"


def plugin_options() -> Sequence[click.Option]:
    """Every option of the plugin."""
    return (
        click.Option(
            ["--etcd-endpoints"],
            default=DEFAULT_ENDPOINTS,
            show_default=True,
            help="Comma-separated client URLs; the first that answers is used.",
        ),
        click.Option(
            ["--etcd-ca-cert"], default=None, type=click.Path(dir_okay=False), help="CA certificate of the server (implies TLS)."
        ),
        click.Option(["--etcd-cert"], default=None, type=click.Path(dir_okay=False), help="Client TLS certificate."),
        click.Option(["--etcd-key"], default=None, type=click.Path(dir_okay=False), help="Private key of --etcd-cert."),
        click.Option(["--etcd-username"], default=None, help="User for etcd authentication (snapshots need the root role)."),
        *secret_option("etcd-password", "Password of --etcd-username."),
        click.Option(
            ["--etcd-dial-timeout"],
            default=10.0,
            show_default=True,
            type=click.FloatRange(min=0.1),
            help="Seconds to wait for a connection.",
        ),
        click.Option(
            ["--etcd-snapshot-timeout"],
            default=3600.0,
            show_default=True,
            type=click.FloatRange(min=1),
            help="Seconds a snapshot may take.",
        ),
        click.Option(["--etcd-name"], default=DEFAULT_NAME, show_default=True, help="Restore: member name (etcd --name)."),
        click.Option(
            ["--etcd-initial-advertise-peer-urls"],
            default=DEFAULT_PEER_URLS,
            show_default=True,
            help="Restore: peer URLs of the member (etcd --initial-advertise-peer-urls).",
        ),
        click.Option(
            ["--etcd-initial-cluster"],
            default=None,
            help="Restore: etcd --initial-cluster (default: NAME=PEER_URLS, a single-member cluster).",
        ),
        click.Option(
            ["--etcd-initial-cluster-token"],
            default=DEFAULT_TOKEN,
            show_default=True,
            help="Restore: etcd --initial-cluster-token.",
        ),
        click.Option(
            ["--etcd-restore-tool"],
            default=None,
            help="Restore: etcdutl (etcd >= 3.5) or etcdctl (3.4) program (default: etcdutl on PATH, else etcdctl).",
        ),
    )


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
class ClientSettings:
    """How to reach the cluster."""

    endpoints: tuple[Endpoint, ...]
    ca_cert: bytes | None
    cert: bytes | None
    key: bytes | None
    username: str | None
    password: str | None
    dial_timeout: float
    snapshot_timeout: float

    @property
    def tls(self) -> bool:
        return self.ca_cert is not None or self.cert is not None or any(e.tls for e in self.endpoints)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> ClientSettings:
        urls = [u for u in str(options.get("etcd_endpoints") or DEFAULT_ENDPOINTS).split(",") if u.strip()]
        if bool(options.get("etcd_cert")) != bool(options.get("etcd_key")):
            raise ConfigError("--etcd-cert and --etcd-key must be set together")
        username = options.get("etcd_username") or None
        password = read_secret(options, "etcd-password")
        if bool(username) != bool(password):
            raise ConfigError("--etcd-username and --etcd-password (or --etcd-password-file) must be set together")
        return cls(
            endpoints=tuple(Endpoint.parse(u) for u in urls),
            ca_cert=_read(options.get("etcd_ca_cert"), "--etcd-ca-cert"),
            cert=_read(options.get("etcd_cert"), "--etcd-cert"),
            key=_read(options.get("etcd_key"), "--etcd-key"),
            username=username,
            password=password,
            dial_timeout=float(options.get("etcd_dial_timeout") or 10.0),
            snapshot_timeout=float(options.get("etcd_snapshot_timeout") or 3600.0),
        )


@dataclass(frozen=True)
class MemberSettings:
    """The identity the restored member gets; it must match the flags etcd is started with."""

    name: str
    peer_urls: str
    initial_cluster: str
    token: str

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> MemberSettings:
        name = str(options.get("etcd_name") or DEFAULT_NAME)
        peer_urls = str(options.get("etcd_initial_advertise_peer_urls") or DEFAULT_PEER_URLS)
        cluster = options.get("etcd_initial_cluster") or ",".join(f"{name}={url}" for url in peer_urls.split(","))
        return cls(
            name=name,
            peer_urls=peer_urls,
            initial_cluster=str(cluster),
            token=str(options.get("etcd_initial_cluster_token") or DEFAULT_TOKEN),
        )


def _read(path: Any, flag: str) -> bytes | None:
    if not path:
        return None
    try:
        return Path(str(path)).read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read {flag} {path}: {error.strerror or error}") from error
