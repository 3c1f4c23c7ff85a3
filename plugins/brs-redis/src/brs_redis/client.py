"""Connections to the server, and redis-py errors turned into one-line brs errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
import redis.exceptions as rexc
from redis.backoff import NoBackoff
from redis.retry import Retry

from brs.errors import DatabaseError
from brs_redis.options import RedisOptions

__all__ = ["connect", "translate_errors"]

#: Seconds to wait for a connection or a reply; BGSAVE itself is polled, so replies are quick.
_SOCKET_TIMEOUT = 30.0


@contextmanager
def connect(settings: RedisOptions, label: str) -> Iterator[redis.Redis]:
    """One dedicated connection (``INFO`` polling should not open a socket per call).

    ``label`` names the server in every message (``valkey at 127.0.0.1:6379``).
    """
    host, port = settings.endpoint
    with translate_errors(label, settings.username or None):
        # single_connection_client connects (and authenticates) right here.
        client = redis.Redis(
            host=host,
            port=port,
            username=settings.username or None,
            password=settings.password,
            ssl=settings.uses_tls,
            ssl_ca_certs=_text(settings.ca_cert),
            ssl_certfile=_text(settings.cert),
            ssl_keyfile=_text(settings.key),
            socket_connect_timeout=_SOCKET_TIMEOUT,
            socket_timeout=_SOCKET_TIMEOUT,
            single_connection_client=True,
            decode_responses=True,
            # A refused connection or a wrong password is the answer: retrying only delays it.
            retry=Retry(NoBackoff(), 0),
        )
        try:
            yield client
        finally:
            client.close()


@contextmanager
def translate_errors(label: str, username: str | None) -> Iterator[None]:
    """Turn redis-py exceptions into :class:`DatabaseError` naming the server (never the password)."""
    user = username or "default"
    try:
        yield
    except rexc.AuthenticationError as error:
        raise DatabaseError(f"{label} rejected the credentials of user {user!r}: {_first_line(error)}") from None
    except rexc.NoPermissionError as error:
        raise DatabaseError(f"{label}: user {user!r} lacks a permission the backup needs: {_first_line(error)}") from None
    except (rexc.ConnectionError, rexc.TimeoutError, OSError) as error:
        text = _first_line(error)
        if "SSL" in text or "ssl" in text:
            raise DatabaseError(f"{label}: TLS connection failed: {text}") from None
        raise DatabaseError(f"{label} is unreachable: {text}") from None
    except rexc.ResponseError as error:
        if "NOAUTH" in str(error):
            raise DatabaseError(f"{label} requires a password (--redis-password-file): {_first_line(error)}") from None
        raise DatabaseError(f"{label} answered with an error: {_first_line(error)}") from None
    except rexc.RedisError as error:
        raise DatabaseError(f"{label}: {_first_line(error)}") from None


def _first_line(error: BaseException) -> str:
    # redis-py messages never contain the password; they can span lines (connection errors).
    return " ".join(str(error).split()) or type(error).__name__


def _text(path: Path | None) -> str | None:
    return None if path is None else str(path)
