"""The options of ``--backup-provider s3`` (named as in backup-restore-sidecar where it had them)."""

from __future__ import annotations

import atexit
import os
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlparse

from brs.errors import ConfigError
from brs.options import PluginOptions, option, secret

__all__ = ["S3Options"]


@dataclass(frozen=True)
class S3Options(PluginOptions):
    """Options of the S3 driver; ``repr`` never shows the keys."""

    prefix: ClassVar[str] = "s3"

    bucket: str = option("", "Bucket that holds the backups (required).", flag="bucket-name")
    region: str | None = option(None, "Region; default: the AWS configuration, else us-east-1.")
    endpoint: str | None = option(None, "URL of an S3-compatible server (path-style addressing); default AWS.")
    access_key: str | None = secret("S3 access key id.")
    secret_key: str | None = secret("S3 secret access key.")
    trusted_ca_cert: str | None = option(
        None, "PEM file of CA certificates to trust, or the PEM text itself (as backup-restore-sidecar took it)."
    )
    insecure_skip_verify: bool = option(False, "Do not verify the server's TLS certificate.")
    checksum_calculation: str | None = option(
        None,
        "When to send request checksums; when_required suits older S3-compatible servers.",
        flag="request-checksum-calculation",
        choices=("when_required", "when_supported"),
    )
    create_bucket: bool = option(True, "Create the bucket when it is missing.")
    retry_mode: str = option("standard", "botocore retry mode.", choices=("standard", "adaptive"))
    max_attempts: int = option(5, "Attempts per request, the first one included.", minimum=1)
    # S3 refuses parts below 5 MiB (except the last one); the parts grow for very large
    # backups (brs.kit.uploads.part_size_for). 8 MiB is also the AWS CLI's part size: larger
    # parts cost memory (concurrency + 1 are held) and gain nothing measurable in throughput.
    part_size_mib: int = option(
        8, "Size of the first multipart parts; memory use is about (--s3-upload-concurrency + 1) parts.", minimum=5
    )
    # Two keep a link busy while the next part is read; a fast link to a distant region needs
    # more (the AWS CLI sends up to 10). botocore's pool holds that many connections and two more.
    upload_concurrency: int = option(2, "Parts uploaded at once.", minimum=1, maximum=16)
    lifecycle_days: int | None = option(
        None,
        "Also install a lifecycle rule that expires objects under the prefix after N days (a safety net; "
        "brs prunes with --object-max-keep anyway). Off by default.",
        minimum=1,
    )
    #: The CA file botocore loads: ``trusted_ca_cert`` itself, or a private file holding its PEM text.
    ca_file: str | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.bucket:
            raise ConfigError("--s3-bucket-name is required with --backup-provider s3")
        if bool(self.access_key) != bool(self.secret_key):
            raise ConfigError("set both --s3-access-key and --s3-secret-key, or neither (to use the AWS credential chain)")
        if self.endpoint:
            parsed = urlparse(self.endpoint)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise ConfigError(f"--s3-endpoint {self.endpoint!r} is not an http(s) URL")
        ca = self.trusted_ca_cert
        if ca and self.insecure_skip_verify:
            raise ConfigError("--s3-trusted-ca-cert and --s3-insecure-skip-verify contradict each other; use one")
        if ca and ca.lstrip().startswith("-----BEGIN"):
            ca = _pem_file(ca)
            _check_ca_file(ca, "the PEM text given as --s3-trusted-ca-cert")
        elif ca:
            _check_ca_file(ca, f"--s3-trusted-ca-cert {ca}")
        object.__setattr__(self, "ca_file", ca or None)

    @property
    def part_size(self) -> int:
        """Size of the first parts in bytes."""
        return self.part_size_mib << 20


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
