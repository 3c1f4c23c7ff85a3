"""The S3 driver's command-line options and their validated, typed form."""

from __future__ import annotations

import atexit
import os
import ssl
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import click
from brs.errors import ConfigError
from brs.options import read_secret, secret_option

__all__ = ["S3Settings", "options"]

_MiB = 1 << 20
#: S3 refuses parts below 5 MiB (except the last one). The size given is that of the first
#: parts; it grows for very large backups (see multipart.part_size_for).
_MIN_PART_MIB = 5


def options() -> Sequence[click.Option]:
    """Options of ``--backup-provider s3`` (named as in backup-restore-sidecar where it had them)."""
    return (
        click.Option(["--s3-bucket-name"], default=None, help="Bucket that holds the backups (required)."),
        click.Option(["--s3-region"], default=None, help="Region; default: the AWS configuration, else us-east-1."),
        click.Option(
            ["--s3-endpoint"], default=None, help="URL of an S3-compatible server (path-style addressing); default AWS."
        ),
        *secret_option("s3-access-key", "S3 access key id."),
        *secret_option("s3-secret-key", "S3 secret access key."),
        click.Option(
            ["--s3-trusted-ca-cert"],
            default=None,
            help="PEM file of CA certificates to trust, or the PEM text itself (as backup-restore-sidecar took it).",
        ),
        click.Option(
            ["--s3-insecure-skip-verify"], is_flag=True, default=False, help="Do not verify the server's TLS certificate."
        ),
        click.Option(
            ["--s3-request-checksum-calculation"],
            default=None,
            type=click.Choice(["when_required", "when_supported"]),
            help="When to send request checksums; when_required suits older S3-compatible servers.",
        ),
        click.Option(
            ["--s3-create-bucket/--no-s3-create-bucket"],
            default=True,
            show_default=True,
            help="Create the bucket when it is missing.",
        ),
        click.Option(
            ["--s3-retry-mode"],
            default="standard",
            show_default=True,
            type=click.Choice(["standard", "adaptive"]),
            help="botocore retry mode.",
        ),
        click.Option(
            ["--s3-max-attempts"],
            default=5,
            show_default=True,
            type=click.IntRange(min=1),
            help="Attempts per request, the first one included.",
        ),
        click.Option(
            ["--s3-part-size-mib"],
            default=16,
            show_default=True,
            type=click.IntRange(min=_MIN_PART_MIB),
            help="Size of the first multipart parts; memory use is about three parts.",
        ),
        click.Option(
            ["--s3-lifecycle-days"],
            default=None,
            type=click.IntRange(min=1),
            help="Also install a lifecycle rule that expires objects under the prefix after N days (a safety net; "
            "brs prunes with --object-max-keep anyway). Off by default.",
        ),
    )


@dataclass(frozen=True)
class S3Settings:
    """Validated S3 options; ``repr`` never shows the secret key."""

    bucket: str
    region: str | None = None
    endpoint: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    trusted_ca_cert: str | None = None
    insecure_skip_verify: bool = False
    checksum_calculation: str | None = None
    create_bucket: bool = True
    retry_mode: str = "standard"
    max_attempts: int = 5
    part_size: int = 16 * _MiB
    lifecycle_days: int | None = None

    def __repr__(self) -> str:
        return f"S3Settings(bucket={self.bucket!r}, endpoint={self.endpoint!r}, region={self.region!r})"

    @classmethod
    def from_options(cls, values: Mapping[str, Any]) -> S3Settings:
        """Validate the merged option values (flags, ``BRS_*`` variables, config file)."""
        bucket = values.get("s3_bucket_name")
        if not bucket:
            raise ConfigError("--s3-bucket-name is required with --backup-provider s3")
        access_key = read_secret(values, "s3-access-key")
        secret_key = read_secret(values, "s3-secret-key")
        if bool(access_key) != bool(secret_key):
            raise ConfigError("set both --s3-access-key and --s3-secret-key, or neither (to use the AWS credential chain)")
        endpoint = values.get("s3_endpoint") or None
        if endpoint:
            parsed = urlparse(endpoint)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise ConfigError(f"--s3-endpoint {endpoint!r} is not an http(s) URL")
        ca = values.get("s3_trusted_ca_cert") or None
        skip = bool(values.get("s3_insecure_skip_verify"))
        if ca and skip:
            raise ConfigError("--s3-trusted-ca-cert and --s3-insecure-skip-verify contradict each other; use one")
        if ca and str(ca).lstrip().startswith("-----BEGIN"):
            ca = _pem_file(str(ca))
            _check_ca_file(ca, "the PEM text given as --s3-trusted-ca-cert")
        elif ca:
            _check_ca_file(ca, f"--s3-trusted-ca-cert {ca}")
        lifecycle = values.get("s3_lifecycle_days")
        return cls(
            bucket=str(bucket),
            region=values.get("s3_region") or None,
            endpoint=endpoint,
            access_key=access_key,
            secret_key=secret_key,
            trusted_ca_cert=ca,
            insecure_skip_verify=skip,
            checksum_calculation=values.get("s3_request_checksum_calculation") or None,
            create_bucket=values.get("s3_create_bucket", True) is not False,
            retry_mode=str(values.get("s3_retry_mode") or "standard"),
            max_attempts=int(values.get("s3_max_attempts") or 5),
            part_size=int(values.get("s3_part_size_mib") or 16) * _MiB,
            lifecycle_days=None if lifecycle is None else int(lifecycle),
        )


def _pem_file(text: str) -> str:
    """Write PEM text (the old tool's form of the option) to a private file botocore can load."""
    handle, path = tempfile.mkstemp(prefix="brs-s3-ca-", suffix=".pem")
    with os.fdopen(handle, "w") as out:
        out.write(text.strip() + "\n")
    atexit.register(os.unlink, path)
    return path


def _check_ca_file(path: str, what: str) -> None:
    """Refuse a CA file that is missing or not PEM now, instead of a TLS error per request.

    The original ignored an invalid PEM silently and then failed every request.
    """
    if not Path(path).is_file():
        raise ConfigError(f"{what} does not exist")
    try:
        ssl.create_default_context(cafile=path)
    except (ssl.SSLError, OSError, ValueError) as error:
        raise ConfigError(f"{what} is not a PEM CA certificate: {error}") from error
