"""The GCS options: the names users and the old tool's variables rely on, and their rules."""

from __future__ import annotations

import pytest
from brs.errors import ConfigError
from brs_storage_gcs import GcsOptions

FLAGS = {
    "gcp-bucket-name", "gcp-project", "gcp-bucket-location", "gcp-create-bucket", "gcp-retry-timeout",
    "gcp-chunk-size-mib", "gcp-trusted-ca-cert", "gcp-insecure-skip-verify",
}  # fmt: skip


def test_every_flag_keeps_its_name() -> None:
    assert {item.flag for item in GcsOptions.declared()} == FLAGS


def test_empty_values_mean_unset_as_before() -> None:
    options = GcsOptions.from_values({"gcp_bucket_name": "b", "gcp_project": "", "gcp_trusted_ca_cert": ""})
    assert (options.project, options.trusted_ca_cert, options.verify) == (None, None, True)
    assert GcsOptions.from_values({"gcp_bucket_name": "b", "gcp_chunk_size_mib": 2}).chunk_size == 2 << 20


@pytest.mark.parametrize(
    "values,message",
    [
        ({}, "--gcp-bucket-name is required"),
        ({"gcp_bucket_name": "b", "gcp_trusted_ca_cert": "/nonexistent/ca.pem"}, "does not exist"),
        ({"gcp_bucket_name": "b", "gcp_retry_timeout": "soon"}, "--gcp-retry-timeout takes a number"),
    ],
)
def test_bad_values_are_one_line_config_errors(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        GcsOptions.from_values(values)
    assert "\n" not in str(caught.value)
