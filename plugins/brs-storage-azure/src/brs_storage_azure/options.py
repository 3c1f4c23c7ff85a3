"""The options of ``--backup-provider azure``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlparse

from brs.errors import ConfigError
from brs.options import PluginOptions, option, secret

__all__ = ["AzureOptions"]

_CONTAINER_NAME = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")


@dataclass(frozen=True)
class AzureOptions(PluginOptions):
    """Options of the Azure driver; ``repr`` never shows the connection string or a SAS token."""

    prefix: ClassVar[str] = "azure"

    container: str = option("", "Blob container that holds the backups (required).")
    account_url: str | None = option(
        None,
        "https://ACCOUNT.blob.core.windows.net (optionally with a SAS token); authenticates with "
        "DefaultAzureCredential unless the URL carries a SAS.",
    )
    connection_string: str | None = secret("Storage account connection string.")
    trusted_ca_cert: str | None = option(None, "PEM file of CA certificates to trust.", metavar="FILE")
    create_container: bool = option(True, "Create the container when missing.")
    max_retries: int = option(5, "Retries of a transiently failing request.", minimum=0)
    # 4 MiB is the SDK's own block size; (concurrency + 1) blocks are held in memory.
    block_size_mib: int = option(
        4, "Upload block size; memory use is about (--azure-upload-concurrency + 1) blocks.", minimum=1, maximum=4000
    )
    # At most 8: the SDK's connection pool (requests') keeps 10 connections, and a block sent
    # beyond it would open and drop a connection each time.
    upload_concurrency: int = option(2, "Blocks uploaded at once.", minimum=1, maximum=8)

    def __post_init__(self) -> None:
        container = self.container
        if not container:
            raise ConfigError("--azure-container is required with --backup-provider azure")
        if not _CONTAINER_NAME.fullmatch(container) or "--" in container:
            raise ConfigError(
                f"--azure-container {container!r} is not a valid container name "
                "(3-63 lowercase letters, digits and single hyphens)"
            )
        if bool(self.connection_string) == bool(self.account_url):
            raise ConfigError("set exactly one of --azure-connection-string and --azure-account-url")
        if self.account_url and urlparse(self.account_url).scheme not in ("http", "https"):
            raise ConfigError(f"--azure-account-url {_without_query(self.account_url)!r} is not an http(s) URL")
        if self.trusted_ca_cert and not Path(self.trusted_ca_cert).is_file():
            raise ConfigError(f"--azure-trusted-ca-cert {self.trusted_ca_cert} does not exist")

    def __repr__(self) -> str:
        return f"AzureOptions(container={self.container!r}, account_url={_without_query(self.account_url)!r})"

    def describe(self) -> dict[str, Any]:
        shown = super().describe()
        shown["azure-account-url"] = _without_query(self.account_url)
        return shown

    @property
    def block_size(self) -> int:
        """Size of the first blocks in bytes."""
        return self.block_size_mib << 20

    @property
    def account(self) -> str:
        """The account's blob endpoint without any SAS token, for messages."""
        if self.account_url:
            return _without_query(self.account_url) or ""
        fields = {}
        for part in (self.connection_string or "").split(";"):
            key, _, value = part.partition("=")
            fields[key.strip().lower()] = value.strip()
        if fields.get("blobendpoint"):
            return fields["blobendpoint"]
        if fields.get("accountname"):
            return f"https://{fields['accountname']}.blob.{fields.get('endpointsuffix') or 'core.windows.net'}"
        return "azure"


def _without_query(url: str | None) -> str | None:
    """The URL without its query: a SAS token is a secret."""
    return url.split("?", 1)[0] if url else url
