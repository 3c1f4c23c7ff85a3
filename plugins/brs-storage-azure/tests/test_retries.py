"""Transient failures (HTTP 503 on every fifth request) are retried: the round trip succeeds."""

from __future__ import annotations

from pathlib import Path

from brs_storage_azure.testing import ACCOUNT, ACCOUNT_KEY, Azurite, unique_container
from brs.testing import FlakyProxy
from brs.testing.storage import backup_wipe_restore
import pytest

pytestmark = pytest.mark.server("azurite")


def test_backup_and_restore_ride_out_503s(tmp_path: Path, azurite: Azurite) -> None:
    with FlakyProxy(azurite.endpoint.rsplit("/", 1)[0], every=5).running() as proxy:
        env = {
            **azurite.env(tmp_path, unique_container(), prefix="db"),
            "BRS_AZURE_MAX_RETRIES": "4",
            "BRS_AZURE_BLOCK_SIZE_MIB": "2",
        }
        Path(env["BRS_AZURE_CONNECTION_STRING_FILE"]).write_text(
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};BlobEndpoint={proxy.endpoint}/{ACCOUNT};"
        )
        backup_wipe_restore(env, big_file_size=6 << 20)  # several blocks
        assert proxy.injected >= 3, proxy.requests
