"""The Azure driver's command-line options and their validated, typed form."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import click
from brs.errors import ConfigError
from brs.options import read_secret, secret_option

__all__ = ["AzureSettings", "options"]

_MiB = 1 << 20
_CONTAINER_NAME = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")


def options() -> Sequence[click.Option]:
    """Options of ``--backup-provider azure``."""
    return (
        click.Option(["--azure-container"], default=None, help="Blob container that holds the backups (required)."),
        click.Option(
            ["--azure-account-url"],
            default=None,
            help="https://ACCOUNT.blob.core.windows.net (optionally with a SAS token); authenticates with "
            "DefaultAzureCredential unless the URL carries a SAS.",
        ),
        *secret_option("azure-connection-string", "Storage account connection string."),
        click.Option(
            ["--azure-trusted-ca-cert"],
            default=None,
            type=click.Path(dir_okay=False),
            help="PEM file of CA certificates to trust.",
        ),
        click.Option(
            ["--azure-create-container/--no-azure-create-container"],
            default=True,
            show_default=True,
            help="Create the container when missing.",
        ),
        click.Option(
            ["--azure-max-retries"],
            default=5,
            show_default=True,
            type=click.IntRange(min=0),
            help="Retries of a transiently failing request.",
        ),
        click.Option(
            ["--azure-block-size-mib"],
            default=8,
            show_default=True,
            type=click.IntRange(min=1, max=4000),
            help="Upload block size.",
        ),
    )


@dataclass(frozen=True)
class AzureSettings:
    """Validated Azure options; ``repr`` never shows the connection string."""

    container: str
    account_url: str | None = None
    connection_string: str | None = None
    trusted_ca_cert: str | None = None
    create_container: bool = True
    max_retries: int = 5
    block_size: int = 8 * _MiB

    def __repr__(self) -> str:
        return f"AzureSettings(container={self.container!r}, account_url={_without_query(self.account_url)!r})"

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

    @classmethod
    def from_options(cls, values: Mapping[str, Any]) -> AzureSettings:
        container = values.get("azure_container")
        if not container:
            raise ConfigError("--azure-container is required with --backup-provider azure")
        if not _CONTAINER_NAME.fullmatch(str(container)) or "--" in str(container):
            raise ConfigError(
                f"--azure-container {container!r} is not a valid container name "
                "(3-63 lowercase letters, digits and single hyphens)"
            )
        connection_string = read_secret(values, "azure-connection-string")
        account_url = values.get("azure_account_url") or None
        if bool(connection_string) == bool(account_url):
            raise ConfigError("set exactly one of --azure-connection-string and --azure-account-url")
        if account_url and urlparse(account_url).scheme not in ("http", "https"):
            raise ConfigError(f"--azure-account-url {_without_query(account_url)!r} is not an http(s) URL")
        ca = values.get("azure_trusted_ca_cert") or None
        if ca and not Path(ca).is_file():
            raise ConfigError(f"--azure-trusted-ca-cert {ca} does not exist")
        retries = values.get("azure_max_retries")
        return cls(
            container=str(container),
            account_url=account_url,
            connection_string=connection_string,
            trusted_ca_cert=ca,
            create_container=values.get("azure_create_container", True) is not False,
            max_retries=5 if retries is None else int(retries),
            block_size=int(values.get("azure_block_size_mib") or 8) * _MiB,
        )


def _without_query(url: str | None) -> str | None:
    """The URL without its query: a SAS token is a secret."""
    return url.split("?", 1)[0] if url else url
