"""The S3 options: the names users and the old tool's variables rely on, and their rules."""

from __future__ import annotations

import pytest
from brs import assembly
from brs.errors import ConfigError
from brs_storage_s3 import S3Options, S3Storage

FLAGS = {
    "s3-bucket-name", "s3-region", "s3-endpoint", "s3-access-key", "s3-secret-key", "s3-trusted-ca-cert",
    "s3-insecure-skip-verify", "s3-request-checksum-calculation", "s3-create-bucket", "s3-retry-mode",
    "s3-max-attempts", "s3-part-size-mib", "s3-upload-concurrency", "s3-lifecycle-days",
}  # fmt: skip


def test_every_flag_keeps_its_name() -> None:
    assert {item.flag for item in S3Options.declared()} == FLAGS
    assert S3Options.params() >= {"s3_access_key_file", "s3_secret_key_file"}


def test_a_driver_is_built_from_its_own_values_only() -> None:
    values = {"s3_bucket_name": "b", "s3_secret_key": "hidden-key", "s3_access_key": "id", "encryption_key": "k"}
    storage = assembly.storage("s3", {**values, "s3_part_size_mib": 6}, object_prefix="/team/db/")
    assert isinstance(storage, S3Storage)
    assert storage.location() == "s3://b/team/db"
    assert storage.settings.part_size == 6 << 20
    assert "hidden-key" not in repr(storage.settings)


def test_empty_values_mean_unset_as_before() -> None:
    options = S3Options.from_values({"s3_bucket_name": "b", "s3_endpoint": "", "s3_region": "", "s3_trusted_ca_cert": ""})
    assert (options.endpoint, options.region, options.ca_file) == (None, None, None)


@pytest.mark.parametrize(
    "values,message",
    [
        ({}, "--s3-bucket-name is required"),
        ({"s3_bucket_name": "b", "s3_access_key": "id"}, "set both --s3-access-key and --s3-secret-key"),
        ({"s3_bucket_name": "b", "s3_endpoint": "ftp://x"}, r"is not an http\(s\) URL"),
        ({"s3_bucket_name": "b", "s3_part_size_mib": 4}, "--s3-part-size-mib must be at least 5"),
        ({"s3_bucket_name": "b", "s3_upload_concurrency": 0}, "--s3-upload-concurrency must be at least 1"),
        ({"s3_bucket_name": "b", "s3_upload_concurrency": 17}, "--s3-upload-concurrency must be at most 16"),
        ({"s3_bucket_name": "b", "s3_trusted_ca_cert": "/nonexistent/ca.pem"}, "does not exist"),
    ],
)
def test_bad_values_are_one_line_config_errors(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        S3Options.from_values(values)
    assert "\n" not in str(caught.value)
