"""HTTPS to the endpoint: ``--gcp-trusted-ca-cert`` and ``--gcp-insecure-skip-verify`` through
the real CLI, against the emulator behind a TLS-terminating proxy."""

from __future__ import annotations

import time
from pathlib import Path

from brs.testing import assert_one_line_error, listed_backups
from brs.testing.storage import backup_small, backup_wipe_restore
from brs_storage_gcs.testing import Emulator, Pki, TlsProxy, unique_bucket
import pytest

pytestmark = pytest.mark.server("gcs")


def _env(tmp_path: Path, emulator: Emulator, proxy: TlsProxy, bucket: str, **extra: str) -> dict[str, str]:
    return {**emulator.env(tmp_path, bucket, prefix="prod/db"), "STORAGE_EMULATOR_HOST": proxy.endpoint, **extra}


def test_the_trusted_ca_carries_a_round_trip(
    tmp_path: Path, gcs_emulator: Emulator, gcs_tls_proxy: TlsProxy, gcs_pki: Pki
) -> None:
    # REQUESTS_CA_BUNDLE names the wrong CA: the explicit option must win over the environment.
    env = _env(
        tmp_path,
        gcs_emulator,
        gcs_tls_proxy,
        unique_bucket(),
        BRS_GCP_TRUSTED_CA_CERT=str(gcs_pki.ca),
        BRS_GCP_CHUNK_SIZE_MIB="1",
        REQUESTS_CA_BUNDLE=str(gcs_pki.other_ca),
    )
    backup_wipe_restore(env, big_file_size=3 << 20)  # several upload and download chunks
    # The resumable upload's chunks and the ranged downloads went through TLS too, not only
    # the JSON API calls.
    relayed = [r for r in gcs_tls_proxy.requests if env["BRS_GCP_BUCKET_NAME"] in r]
    assert sum(r.startswith("PUT ") and "upload_id=" in r for r in relayed) >= 3, relayed
    assert sum(r.startswith("GET ") and "alt=media" in r for r in relayed) >= 3, relayed


def test_an_untrusted_certificate_fails_at_once_with_one_line(
    tmp_path: Path, gcs_emulator: Emulator, gcs_tls_proxy: TlsProxy, gcs_pki: Pki
) -> None:
    bucket = unique_bucket()
    env = _env(tmp_path, gcs_emulator, gcs_tls_proxy, bucket, BRS_GCP_RETRY_TIMEOUT="60")
    started = time.monotonic()
    result = backup_small(env, BRS_GCP_TRUSTED_CA_CERT=str(gcs_pki.other_ca))
    assert_one_line_error(result, f"gs://{bucket}/prod/db/", "certificate is not trusted")
    assert "Traceback" not in result.stderr
    # Not retried for the 60 s retry budget: a wrong CA never heals.
    assert time.monotonic() - started < 30


def test_the_system_cas_do_not_trust_a_private_ca(tmp_path: Path, gcs_emulator: Emulator, gcs_tls_proxy: TlsProxy) -> None:
    bucket = unique_bucket()
    result = backup_small(_env(tmp_path, gcs_emulator, gcs_tls_proxy, bucket))
    assert_one_line_error(result, f"gs://{bucket}/prod/db/", "certificate is not trusted")


def test_a_ca_file_that_is_not_pem(tmp_path: Path, gcs_emulator: Emulator, gcs_tls_proxy: TlsProxy) -> None:
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate\n")
    result = backup_small(_env(tmp_path, gcs_emulator, gcs_tls_proxy, unique_bucket(), BRS_GCP_TRUSTED_CA_CERT=str(bogus)))
    assert_one_line_error(result, "--gcp-trusted-ca-cert", str(bogus), "not a PEM CA certificate")


def test_a_missing_ca_file(tmp_path: Path, gcs_emulator: Emulator, gcs_tls_proxy: TlsProxy) -> None:
    missing = tmp_path / "nowhere.pem"
    result = backup_small(_env(tmp_path, gcs_emulator, gcs_tls_proxy, unique_bucket(), BRS_GCP_TRUSTED_CA_CERT=str(missing)))
    assert_one_line_error(result, "--gcp-trusted-ca-cert", "does not exist")


def test_skip_verify_works_and_contradicts_a_ca(
    tmp_path: Path, gcs_emulator: Emulator, gcs_tls_proxy: TlsProxy, gcs_pki: Pki
) -> None:
    env = _env(tmp_path, gcs_emulator, gcs_tls_proxy, unique_bucket(), BRS_GCP_INSECURE_SKIP_VERIFY="true")
    result = backup_small(env)
    assert result.returncode == 0, result.stderr
    assert "Unverified HTTPS request" not in result.stderr
    assert len(listed_backups(env)) == 1
    result = backup_small(env, BRS_GCP_TRUSTED_CA_CERT=str(gcs_pki.ca))
    assert_one_line_error(result, "--gcp-trusted-ca-cert", "--gcp-insecure-skip-verify")
