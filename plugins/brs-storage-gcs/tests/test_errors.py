"""Permanent failures are one clear line from the real CLI (exit 1), naming bucket and prefix."""

from __future__ import annotations

from pathlib import Path

from brs.testing import assert_one_line_error, free_port
from brs.testing.storage import backup_small
from brs_storage_gcs.testing import Emulator, unique_bucket
import pytest

pytestmark = pytest.mark.server("gcs")


def _without_emulator(env: dict[str, str]) -> dict[str, str]:
    # run_brs merges os.environ; an empty value counts as unset for google-cloud-storage.
    return {**env, "STORAGE_EMULATOR_HOST": ""}


def test_missing_application_default_credentials(tmp_path: Path, gcs_emulator: Emulator) -> None:
    env = _without_emulator(gcs_emulator.env(tmp_path, "prod-backups", prefix="prod/db"))
    result = backup_small(env, GOOGLE_APPLICATION_CREDENTIALS=str(tmp_path / "missing.json"))
    assert_one_line_error(result, "gs://prod-backups/prod/db/", "credentials")


def test_malformed_service_account_key(tmp_path: Path, gcs_emulator: Emulator) -> None:
    key = tmp_path / "sa.json"
    secret = "-----BEGIN PRIVATE KEY-----\nnot-a-real-key-material\n-----END PRIVATE KEY-----\n"
    key.write_text(
        '{"type": "service_account", "project_id": "p", "private_key_id": "x", "client_email": "brs@p.iam.gserviceaccount.com", '
        f'"private_key": {secret!r}, "token_uri": "https://oauth2.googleapis.com/token"}}'.replace("'", '"')
    )
    env = _without_emulator(gcs_emulator.env(tmp_path, "prod-backups", prefix="prod/db"))
    result = backup_small(env, GOOGLE_APPLICATION_CREDENTIALS=str(key))
    line = assert_one_line_error(result, "gs://prod-backups/prod/db/", "credentials")
    assert "not-a-real-key-material" not in line


def test_a_missing_bucket_with_creation_disabled(tmp_path: Path, gcs_emulator: Emulator) -> None:
    bucket = unique_bucket("missing")
    result = backup_small(gcs_emulator.env(tmp_path, bucket, prefix="prod/db"), BRS_GCP_CREATE_BUCKET="false")
    assert_one_line_error(result, f"bucket {bucket} does not exist", "prod/db")


def test_a_wrong_endpoint(tmp_path: Path, gcs_emulator: Emulator) -> None:
    env = {
        **gcs_emulator.env(tmp_path, "some-bucket", prefix="prod/db"),
        "STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{free_port()}",
    }
    result = backup_small(env, BRS_GCP_RETRY_TIMEOUT="2")
    assert_one_line_error(result, "cannot connect to the endpoint", "gs://some-bucket/prod/db/")
