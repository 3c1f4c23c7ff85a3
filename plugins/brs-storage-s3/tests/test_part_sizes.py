"""The part sizes of a multipart upload grow, so that a terabyte fits in S3's 10 000 parts."""

from __future__ import annotations

from brs.kit.uploads import part_size_for
from brs_storage_s3.multipart import MultipartUpload


def test_part_sizes_grow_so_about_a_terabyte_fits() -> None:
    base, step = 16 << 20, MultipartUpload.parts_per_step
    assert part_size_for(1, base, step) == part_size_for(2000, base, step) == base
    assert part_size_for(2001, base, step) == 2 * base
    total = sum(part_size_for(n, base, step) for n in range(1, MultipartUpload.max_parts + 1))
    assert total >= 960 << 30  # 16 MiB x 2000 x (1 + 2 + 4 + 8 + 16)
