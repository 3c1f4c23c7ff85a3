"""The Azure options: the names users rely on, their rules, and no SAS token in a repr."""

from __future__ import annotations

import pytest
from brs.errors import ConfigError
from brs_storage_azure import AzureOptions

FLAGS = {
    "azure-container", "azure-account-url", "azure-connection-string", "azure-trusted-ca-cert",
    "azure-create-container", "azure-max-retries", "azure-block-size-mib", "azure-upload-concurrency",
}  # fmt: skip
SAS_URL = "https://acct.blob.core.windows.net/?sv=2024-01-01&sig=c2VjcmV0"


def test_every_flag_keeps_its_name() -> None:
    assert {item.flag for item in AzureOptions.declared()} == FLAGS


def test_neither_repr_nor_describe_shows_a_sas_token() -> None:
    options = AzureOptions.from_values({"azure_container": "backups", "azure_account_url": SAS_URL})
    assert "sig=" not in repr(options) and "sig=" not in str(options.describe())
    assert options.account == "https://acct.blob.core.windows.net/"


@pytest.mark.parametrize(
    "values,message",
    [
        ({}, "--azure-container is required"),
        ({"azure_container": "Bad_Name", "azure_account_url": SAS_URL}, "is not a valid container name"),
        ({"azure_container": "backups"}, "set exactly one of"),
        ({"azure_container": "backups", "azure_account_url": "", "azure_connection_string": "x"}, None),
        ({"azure_container": "backups", "azure_account_url": SAS_URL, "azure_block_size_mib": 0}, "at least 1"),
        ({"azure_container": "backups", "azure_account_url": SAS_URL, "azure_upload_concurrency": 9}, "at most 8"),
    ],
)
def test_rules_and_one_line_config_errors(values: dict[str, object], message: str | None) -> None:
    if message is None:  # an empty variable counts as unset
        assert AzureOptions.from_values(values).account_url is None
        return
    with pytest.raises(ConfigError, match=message) as caught:
        AzureOptions.from_values(values)
    assert "\n" not in str(caught.value)
