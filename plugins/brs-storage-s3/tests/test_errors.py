"""Permanent failures are one clear line from the real CLI (exit 1), naming bucket and prefix."""

from __future__ import annotations

from pathlib import Path

from brs.testing import assert_one_line_error, free_port, listed_backups
from brs.testing.storage import backup_small
from brs_storage_s3.testing import Moto, Pki, Restricted, S3Target, moto_target, unique_bucket
import pytest

pytestmark = pytest.mark.server("s3")


def _backup(tmp_path: Path, target: S3Target, bucket: str, **extra: str) -> tuple[dict[str, str], object]:
    env = {**target.env(tmp_path, bucket, prefix="prod/db"), "BRS_LOG_LEVEL": "warning", **extra}
    return env, backup_small(env)


def test_an_unknown_access_key(tmp_path: Path, moto_with_auth: Restricted) -> None:
    target = S3Target(moto_with_auth.target.endpoint, "AKIAUNKNOWNUNKNOWN00", "not-the-secret-value-0123456789")
    _, result = _backup(tmp_path, target, moto_with_auth.existing_bucket)
    assert_one_line_error(
        result, "credentials", f"s3://{moto_with_auth.existing_bucket}/prod/db/", secrets=("not-the-secret-value-0123456789",)
    )


def test_a_wrong_secret_key(tmp_path: Path, moto_with_auth: Restricted) -> None:
    target = S3Target(moto_with_auth.target.endpoint, moto_with_auth.target.access_key, "wrong-secret-key-value-abcdefghijkl")
    _, result = _backup(tmp_path, target, moto_with_auth.existing_bucket)
    assert_one_line_error(result, "secret key does not match", "prod/db", secrets=("wrong-secret-key-value-abcdefghijkl",))


def test_the_restricted_user_can_back_up_into_an_existing_bucket(tmp_path: Path, moto_with_auth: Restricted) -> None:
    env, result = _backup(tmp_path, moto_with_auth.target, moto_with_auth.existing_bucket)
    assert result.returncode == 0, result.stderr  # type: ignore[attr-defined]
    assert len(listed_backups(env)) == 1


def test_a_missing_bucket_without_permission_to_create_it(tmp_path: Path, moto_with_auth: Restricted) -> None:
    bucket = unique_bucket("missing")
    _, result = _backup(tmp_path, moto_with_auth.target, bucket)
    assert_one_line_error(result, f"s3://{bucket}/prod/db/", "access denied", secrets=(moto_with_auth.target.secret_key,))


def test_a_missing_bucket_with_creation_disabled(tmp_path: Path, moto: Moto) -> None:
    bucket = unique_bucket("missing")
    _, result = _backup(tmp_path, moto_target(moto), bucket, BRS_S3_CREATE_BUCKET="false")
    assert_one_line_error(result, f"bucket {bucket} does not exist", "prod/db")


def test_a_wrong_endpoint(tmp_path: Path) -> None:
    target = S3Target(f"http://127.0.0.1:{free_port()}", "test", "test")
    _, result = _backup(tmp_path, target, "some-bucket", BRS_S3_MAX_ATTEMPTS="2")
    assert_one_line_error(result, "cannot connect to the endpoint", "s3://some-bucket/prod/db/")


def test_an_untrusted_server_certificate(tmp_path: Path, moto_tls: Moto, pki: Pki) -> None:
    _, result = _backup(tmp_path, moto_target(moto_tls), unique_bucket(), BRS_S3_TRUSTED_CA_CERT=str(pki.other_ca))
    assert_one_line_error(result, "TLS", "prod/db")


def test_a_ca_file_that_is_not_pem(tmp_path: Path, moto_tls: Moto) -> None:
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate\n")
    _, result = _backup(tmp_path, moto_target(moto_tls), unique_bucket(), BRS_S3_TRUSTED_CA_CERT=str(bogus))
    assert_one_line_error(result, "--s3-trusted-ca-cert", "not a PEM")


def test_the_right_ca_and_skip_verify_both_work(tmp_path: Path, moto_tls: Moto, pki: Pki) -> None:
    env, result = _backup(tmp_path / "ca", moto_target(moto_tls), unique_bucket(), BRS_S3_TRUSTED_CA_CERT=str(pki.ca))
    assert result.returncode == 0, result.stderr  # type: ignore[attr-defined]
    assert len(listed_backups(env)) == 1
    env, result = _backup(tmp_path / "skip", moto_target(moto_tls), unique_bucket(), BRS_S3_INSECURE_SKIP_VERIFY="true")
    assert result.returncode == 0, result.stderr  # type: ignore[attr-defined]
    assert len(listed_backups(env)) == 1
