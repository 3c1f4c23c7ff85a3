"""The GCS driver's command-line options and their validated, typed form."""

from __future__ import annotations

import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from brs.errors import ConfigError

__all__ = ["GcsSettings", "options"]

_MiB = 1 << 20


def options() -> Sequence[click.Option]:
    """Options of ``--backup-provider gcs`` (named as in backup-restore-sidecar where it had them)."""
    return (
        click.Option(["--gcp-bucket-name"], default=None, help="Bucket that holds the backups (required)."),
        click.Option(
            ["--gcp-project"], default=None, help="Project that owns a bucket brs creates; default: from the credentials."
        ),
        click.Option(["--gcp-bucket-location"], default=None, help="Location of a bucket brs creates (e.g. EU, us-central1)."),
        click.Option(
            ["--gcp-create-bucket/--no-gcp-create-bucket"],
            default=True,
            show_default=True,
            help="Create the bucket when it is missing.",
        ),
        click.Option(
            ["--gcp-retry-timeout"],
            default=120.0,
            show_default=True,
            type=click.FloatRange(min=0),
            help="Seconds to keep retrying a request that fails transiently (timeouts, 429, 5xx).",
        ),
        click.Option(
            ["--gcp-chunk-size-mib"],
            default=8,
            show_default=True,
            type=click.IntRange(min=1),
            help="Resumable upload and download chunk size.",
        ),
        click.Option(
            ["--gcp-trusted-ca-cert"],
            default=None,
            type=click.Path(dir_okay=False),
            help="PEM file of CA certificates to trust for the storage endpoint (instead of the system's).",
        ),
        click.Option(
            ["--gcp-insecure-skip-verify"],
            is_flag=True,
            default=False,
            help="Do not verify the storage endpoint's TLS certificate.",
        ),
    )


@dataclass(frozen=True)
class GcsSettings:
    """Validated GCS options. Credentials are Application Default Credentials, never options."""

    bucket: str
    project: str | None = None
    location: str | None = None
    create_bucket: bool = True
    retry_timeout: float = 120.0
    chunk_size: int = 8 * _MiB
    trusted_ca_cert: str | None = None
    insecure_skip_verify: bool = False

    @classmethod
    def from_options(cls, values: Mapping[str, Any]) -> GcsSettings:
        """Validate the merged option values (flags, ``BRS_*`` variables, config file)."""
        bucket = values.get("gcp_bucket_name")
        if not bucket:
            raise ConfigError("--gcp-bucket-name is required with --backup-provider gcs")
        timeout = values.get("gcp_retry_timeout")
        ca = values.get("gcp_trusted_ca_cert") or None
        skip = bool(values.get("gcp_insecure_skip_verify"))
        if ca and skip:
            raise ConfigError("--gcp-trusted-ca-cert and --gcp-insecure-skip-verify contradict each other; use one")
        if ca:
            _check_ca_file(str(ca))
        return cls(
            bucket=str(bucket),
            project=values.get("gcp_project") or None,
            location=values.get("gcp_bucket_location") or None,
            create_bucket=values.get("gcp_create_bucket", True) is not False,
            retry_timeout=120.0 if timeout is None else float(timeout),
            # Resumable uploads need multiples of 256 KiB; whole MiB always are.
            chunk_size=int(values.get("gcp_chunk_size_mib") or 8) * _MiB,
            trusted_ca_cert=str(ca) if ca else None,
            insecure_skip_verify=skip,
        )

    @property
    def verify(self) -> bool | str:
        """What ``requests`` verifies the endpoint's certificate with: a CA file, the system's
        CAs (``True``) or nothing (``False``)."""
        if self.insecure_skip_verify:
            return False
        return self.trusted_ca_cert or True


def _check_ca_file(path: str) -> None:
    """Refuse a CA file that is missing or not PEM now, instead of a TLS error on every request."""
    if not Path(path).is_file():
        raise ConfigError(f"--gcp-trusted-ca-cert {path} does not exist")
    try:
        ssl.create_default_context(cafile=path)
    except (ssl.SSLError, OSError, ValueError) as error:
        reason = " ".join(str(error).split())
        raise ConfigError(f"--gcp-trusted-ca-cert {path} is not a PEM CA certificate: {reason}") from error
