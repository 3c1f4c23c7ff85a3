"""The options of ``--backup-provider gcs`` (named as in backup-restore-sidecar where it had them)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from brs.errors import ConfigError
from brs.options import PluginOptions, option

__all__ = ["GcsOptions"]


@dataclass(frozen=True)
class GcsOptions(PluginOptions):
    """Options of the GCS driver.

    Credentials are Application Default Credentials (a workload identity, a key file named by
    ``GOOGLE_APPLICATION_CREDENTIALS``), never options: a key on a command line would leak.
    """

    prefix: ClassVar[str] = "gcp"

    bucket: str = option("", "Bucket that holds the backups (required).", flag="bucket-name")
    project: str | None = option(None, "Project that owns a bucket brs creates; default: from the credentials.")
    location: str | None = option(None, "Location of a bucket brs creates (e.g. EU, us-central1).", flag="bucket-location")
    create_bucket: bool = option(True, "Create the bucket when it is missing.")
    retry_timeout: float = option(
        120.0, "Seconds to keep retrying a request that fails transiently (timeouts, 429, 5xx).", minimum=0
    )
    # Resumable uploads need multiples of 256 KiB; whole MiB always are.
    chunk_size_mib: int = option(8, "Resumable upload and download chunk size.", minimum=1)
    trusted_ca_cert: str | None = option(
        None, "PEM file of CA certificates to trust for the storage endpoint (instead of the system's).", metavar="FILE"
    )
    insecure_skip_verify: bool = option(False, "Do not verify the storage endpoint's TLS certificate.")

    def __post_init__(self) -> None:
        if not self.bucket:
            raise ConfigError("--gcp-bucket-name is required with --backup-provider gcs")
        ca = self.trusted_ca_cert
        if ca and self.insecure_skip_verify:
            raise ConfigError("--gcp-trusted-ca-cert and --gcp-insecure-skip-verify contradict each other; use one")
        if ca:
            _check_ca_file(Path(ca))

    @property
    def chunk_size(self) -> int:
        """The chunk size in bytes."""
        return self.chunk_size_mib << 20

    @property
    def verify(self) -> bool | str:
        """What ``requests`` verifies the endpoint's certificate with: a CA file, the system's
        CAs (``True``) or nothing (``False``)."""
        if self.insecure_skip_verify:
            return False
        return self.trusted_ca_cert or True


def _check_ca_file(path: Path) -> None:
    """Refuse a CA file that is missing or not PEM now, instead of a TLS error on every request."""
    if not path.is_file():
        raise ConfigError(f"--gcp-trusted-ca-cert {path} does not exist")
    try:
        ssl.create_default_context(cafile=path)
    except (ssl.SSLError, OSError, ValueError) as error:
        reason = " ".join(str(error).split())
        raise ConfigError(f"--gcp-trusted-ca-cert {path} is not a PEM CA certificate: {reason}") from error
