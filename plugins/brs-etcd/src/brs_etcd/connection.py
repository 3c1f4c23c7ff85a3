"""gRPC connections to etcd, authentication, and gRPC errors as one-line brs errors.

aetcd's ``Client`` is asyncio-only and opens plain-text channels only; the plugin therefore
uses aetcd's generated etcd v3 API stubs (:mod:`aetcd.rpc`) over a synchronous gRPC channel,
which supports TLS and lets a snapshot stream straight into the archive without an event loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
from aetcd import rpc

from brs.errors import ConfigError, DatabaseError
from brs_etcd.options import Endpoint, EtcdOptions

__all__ = ["Session", "open_session", "translate_errors"]


@dataclass
class Session:
    """A channel to one endpoint with the auth token (if any) to send along."""

    endpoint: Endpoint
    channel: grpc.Channel
    metadata: tuple[tuple[str, str], ...]
    label: str

    @property
    def maintenance(self) -> rpc.MaintenanceStub:
        return rpc.MaintenanceStub(self.channel)


@contextmanager
def translate_errors(label: str, username: str | None) -> Iterator[None]:
    """gRPC status codes to :class:`DatabaseError` naming the server (never the password)."""
    try:
        yield
    except grpc.RpcError as error:
        raise DatabaseError(describe(error, label, username)) from None


def describe(error: grpc.RpcError, label: str, username: str | None) -> str:
    code = error.code() if hasattr(error, "code") else None
    details = " ".join(str(error.details() if hasattr(error, "details") else error).split())
    user = username or "(no user)"
    if code == grpc.StatusCode.UNAVAILABLE:
        if any(mark in details for mark in ("SSL", "TSI_", "handshake", "certificate")):
            return f"{label}: TLS connection failed: {details}"
        return f"{label} is unreachable: {details}"
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return f"{label} did not answer in time: {details}"
    # etcd 3.4 reports a refused snapshot stream with code UNKNOWN and this text.
    if code == grpc.StatusCode.PERMISSION_DENIED or "permission denied" in details:
        return f"{label}: user {user} lacks a permission the backup needs (snapshots need the root role): {details}"
    if "user name is empty" in details:
        return f"{label} requires authentication: set --etcd-username and --etcd-password-file ({details})"
    if code == grpc.StatusCode.UNAUTHENTICATED or "authentication failed" in details or "invalid auth token" in details:
        return f"{label} rejected the credentials of user {user}: {details}"
    if code == grpc.StatusCode.FAILED_PRECONDITION and "authentication is not enabled" in details:
        return f"{label} has authentication disabled; do not set --etcd-username: {details}"
    return f"{label} failed: {details} ({code.name if code else 'error'})"


@contextmanager
def open_session(settings: EtcdOptions) -> Iterator[Session]:
    """Connect to the first endpoint that answers a status request (and authenticate)."""
    errors: list[str] = []
    for endpoint in settings.client_urls:
        label = f"etcd at {endpoint.url}"
        channel = _channel(settings, endpoint)
        try:
            try:
                metadata = _authenticate(channel, settings)
                rpc.MaintenanceStub(channel).Status(rpc.StatusRequest(), timeout=settings.dial_timeout, metadata=metadata)
            except grpc.RpcError as error:
                if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                    errors.append(describe(error, label, settings.username))
                    continue  # try the next member
                raise DatabaseError(describe(error, label, settings.username)) from None
            with translate_errors(label, settings.username):
                yield Session(endpoint, channel, metadata, label)
            return
        finally:
            channel.close()
    if len(errors) == 1:
        raise DatabaseError(errors[0])
    raise DatabaseError("no etcd endpoint answered: " + "; ".join(errors))


def _channel(settings: EtcdOptions, endpoint: Endpoint) -> grpc.Channel:
    # Snapshots of large clusters arrive in big messages; lift gRPC's 4 MiB receive limit.
    options = [("grpc.max_receive_message_length", 256 << 20)]
    if settings.tls or endpoint.tls:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=_read(settings.ca_cert, "--etcd-ca-cert"),
            private_key=_read(settings.key, "--etcd-key"),
            certificate_chain=_read(settings.cert, "--etcd-cert"),
        )
        return grpc.secure_channel(endpoint.target, credentials, options=options)
    return grpc.insecure_channel(endpoint.target, options=options)


def _authenticate(channel: grpc.Channel, settings: EtcdOptions) -> tuple[tuple[str, str], ...]:
    if not settings.username:
        return ()
    response = rpc.AuthStub(channel).Authenticate(
        rpc.AuthenticateRequest(name=settings.username, password=settings.password or ""), timeout=settings.dial_timeout
    )
    return (("token", str(response.token)),)


def _read(path: Path | None, flag: str) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read {flag} {path}: {error.strerror or error}") from error
