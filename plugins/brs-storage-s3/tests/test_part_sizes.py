"""The part sizes of a multipart upload grow, so that terabytes fit in S3's 10 000 parts."""

from __future__ import annotations

from brs.kit.uploads import part_size_for
from brs_storage_s3.multipart import MultipartUpload
from brs_storage_s3.options import S3Options


def test_default_parts_stay_small_for_common_backups_and_grow_so_terabytes_fit() -> None:
    base, step = S3Options(bucket="b").part_size, MultipartUpload.parts_per_step
    assert base == 8 << 20
    # Every backup up to 7.8 GiB is held in memory as three 8 MiB parts.
    assert part_size_for(1, base, step) == part_size_for(1000, base, step) == base
    assert part_size_for(1001, base, step) == 2 * base
    total = sum(part_size_for(n, base, step) for n in range(1, MultipartUpload.max_parts + 1))
    assert total >= 5 << 40  # 8 MiB x 1000 x (1 + 2 + ... + 256) + 1000 x 2 GiB
