"""The GCS driver's command-line options and their validated, typed form."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import click
from brs.errors import ConfigError

__all__ = ["GcsSettings", "options"]

_MiB = 1 << 20


def options() -> Sequence[click.Option]:
    """Options of ``--backup-provider gcs`` (seed names where the original had them)."""
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

    @classmethod
    def from_options(cls, values: Mapping[str, Any]) -> GcsSettings:
        bucket = values.get("gcp_bucket_name")
        if not bucket:
            raise ConfigError("--gcp-bucket-name is required with --backup-provider gcs")
        timeout = values.get("gcp_retry_timeout")
        return cls(
            bucket=str(bucket),
            project=values.get("gcp_project") or None,
            location=values.get("gcp_bucket_location") or None,
            create_bucket=values.get("gcp_create_bucket", True) is not False,
            retry_timeout=120.0 if timeout is None else float(timeout),
            # Resumable uploads need multiples of 256 KiB; whole MiB always are.
            chunk_size=int(values.get("gcp_chunk_size_mib") or 8) * _MiB,
        )
