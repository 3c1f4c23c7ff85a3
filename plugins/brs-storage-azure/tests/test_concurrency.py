"""--azure-upload-concurrency: how many blocks a backup really has in flight at once (counted at a
relay in front of Azurite that holds each block a moment), and the backup stays whole."""

from __future__ import annotations

from pathlib import Path

import pytest
from brs.testing import InFlightProxy
from brs.testing.storage import backup_wipe_restore
from brs_storage_azure.testing import ACCOUNT, ACCOUNT_KEY, Azurite, unique_container

pytestmark = pytest.mark.server("azurite")


@pytest.mark.parametrize("concurrency", [None, 4])
def test_blocks_in_flight_follow_the_option(tmp_path: Path, azurite: Azurite, concurrency: int | None) -> None:
    with InFlightProxy(azurite.endpoint.rsplit("/", 1)[0]).running() as proxy:
        env = {**azurite.env(tmp_path, unique_container(), prefix="db"), "BRS_AZURE_BLOCK_SIZE_MIB": "2"}
        if concurrency is not None:
            env["BRS_AZURE_UPLOAD_CONCURRENCY"] = str(concurrency)
        Path(env["BRS_AZURE_CONNECTION_STRING_FILE"]).write_text(
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};BlobEndpoint={proxy.endpoint}/{ACCOUNT};"
        )
        backup_wipe_restore(env, big_file_size=16 << 20)  # about 8 blocks of 2 MiB
    assert proxy.held >= 8
    assert proxy.peak == (concurrency or 2)
