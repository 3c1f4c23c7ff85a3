"""brs's storage contract against moto, plus S3-specific behaviour of the driver."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from typing import Any

import pytest
from brs.interfaces import Storage
from brs.testing import StorageContract, free_port
from brs.testing.storage import GreedyReader
from brs_storage_s3.testing import Moto, S3Target, moto_target, s3_storage, unique_bucket

from brs_storage_s3 import S3Storage

pytestmark = pytest.mark.server("s3")

_MiB = 1 << 20


class TestS3Contract(StorageContract):
    @pytest.fixture
    def storage_factory(self, moto: Moto, storage_on: Callable[..., S3Storage]) -> Callable[[str], Storage[Any]]:
        bucket = unique_bucket()
        return lambda prefix: storage_on(moto_target(moto), bucket, prefix)

    @pytest.fixture
    def unreachable_storage(self) -> Storage[Any]:
        # Nothing listens on the port; one attempt per request, so the refusal is reported at once.
        target = S3Target(f"http://127.0.0.1:{free_port()}", "test", "test")
        return s3_storage(target, unique_bucket(), "contract", s3_max_attempts=1)


def test_a_multipart_upload_uses_parts_and_a_failed_one_is_aborted(moto: Moto, storage_on: Callable[..., S3Storage]) -> None:
    target = moto_target(moto)
    bucket = unique_bucket()
    storage = storage_on(target, bucket, "mp", s3_part_size_mib=5)
    storage.ensure()
    data = os.urandom(12 * _MiB + 5)
    assert storage.upload("big", _Trickle(data)) == len(data)
    client = target.client()
    head = client.head_object(Bucket=bucket, Key="mp/big")
    assert head["ETag"].strip('"').endswith("-3")  # three parts: the 1 MiB pieces were gathered
    with storage.download("big") as handle:
        assert handle.read() == data

    class Broken(io.RawIOBase):
        sent = 0

        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            if self.sent >= 11 * _MiB:
                raise OSError("pipeline broke")
            self.sent += min(n, _MiB)
            return os.urandom(min(n, _MiB))

    with pytest.raises(OSError):
        storage.upload("broken", Broken())
    uploads = client.list_multipart_uploads(Bucket=bucket, Prefix="mp/")
    assert uploads.get("Uploads", []) == []
    assert [obj.name for obj in storage.list()] == ["big"]


def test_listing_pages_and_ignores_deeper_folders(moto: Moto, storage_on: Callable[..., S3Storage]) -> None:
    target = moto_target(moto)
    bucket = unique_bucket()
    storage = storage_on(target, bucket, "team/db")
    storage.ensure()
    client = target.client()
    for i in range(1005):  # more than one page of 1000 keys
        client.put_object(Bucket=bucket, Key=f"team/db/obj-{i:04d}", Body=b"")
    client.put_object(Bucket=bucket, Key="team/db/nested/other", Body=b"x")
    client.put_object(Bucket=bucket, Key="team/db-2/other", Body=b"x")
    names = {obj.name for obj in storage.list()}
    assert len(names) == 1005 and "nested/other" not in names and "other" not in names


def test_lifecycle_rule_keeps_other_rules(moto: Moto, storage_on: Callable[..., S3Storage]) -> None:
    target = moto_target(moto)
    bucket = unique_bucket()
    client = target.client()
    client.create_bucket(Bucket=bucket)
    foreign = {"ID": "someone-else", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 3}}
    client.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [foreign]})
    for days in (30, 30, 40):
        storage_on(target, bucket, "pg", s3_lifecycle_days=days).ensure()
    rules = client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    by_id = {rule["ID"]: rule for rule in rules}
    assert set(by_id) == {"someone-else", "brs-pg-expire"}
    assert by_id["brs-pg-expire"]["Expiration"]["Days"] == 40
    assert by_id["brs-pg-expire"]["Filter"]["Prefix"] == "pg/"


class _Trickle(io.RawIOBase):
    """Hands out at most 1 MiB per read, like brs's pipeline."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        return self._data.read(min(n, _MiB) if n is not None and n >= 0 else _MiB)


def test_pieces_larger_than_asked_for_are_split_not_lost(moto: Moto, storage_on: Callable[..., S3Storage]) -> None:
    storage = storage_on(moto_target(moto), unique_bucket(), "greedy", s3_part_size_mib=5)
    storage.ensure()
    data = os.urandom(11 * _MiB + 7)
    assert storage.upload("greedy", GreedyReader(data, 3 * _MiB + 1)) == len(data)
    with storage.download("greedy") as handle:
        assert handle.read() == data
