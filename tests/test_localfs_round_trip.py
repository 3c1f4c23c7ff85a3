"""Acceptance: a tree with every awkward case survives backup and restore byte for byte,
for each compression method, with and without encryption, through the real CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from brs.testing import cleared_special_bits, make_tree, run_brs, tree_snapshot

BIG = 200 << 20


@pytest.fixture(scope="module")
def source_tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, tuple[object, ...]]]:
    root = make_tree(tmp_path_factory.mktemp("tree") / "data", big_file_size=BIG)
    return root, tree_snapshot(root)


@pytest.mark.slow
@pytest.mark.parametrize("encrypted", [True, False], ids=["encrypted", "plain"])
@pytest.mark.parametrize("method", ["tar", "targz", "tarlz4", "tarzst"])
def test_round_trip_is_byte_identical(
    tmp_path: Path, brs_env: dict[str, str], source_tree: tuple[Path, dict[str, tuple[object, ...]]], method: str, encrypted: bool
) -> None:
    source, expected = source_tree
    data = Path(brs_env["BRS_DB_DATA_DIRECTORY"])
    shutil.copytree(source, data, symlinks=True)
    shutil.copystat(source, data)
    env = {**brs_env, "BRS_COMPRESSION_METHOD": method}
    if encrypted:
        env["BRS_ENCRYPTION_KEY_FILE"] = str(tmp_path / "key")
    version = run_brs("backup", env=env, check=True).stdout.strip()

    listed = json.loads(run_brs("backups", "list", "--json", env=env, check=True).stdout)
    assert [b["version"] for b in listed] == [version]
    assert listed[0]["compression"] == method and listed[0]["encrypted"] is encrypted and listed[0]["db"] == "localfs"
    suffix = {"tar": ".tar", "targz": ".tar.gz", "tarlz4": ".tar.lz4", "tarzst": ".tar.zst"}[method]
    assert listed[0]["name"] == version + suffix + (".aes" if encrypted else "")

    shutil.rmtree(data)
    restored = run_brs("restore", "latest", env=env, check=True)
    assert restored.stdout.strip() == version
    # Setuid, setgid and sticky bits are cleared unless asked for.
    assert tree_snapshot(data) == cleared_special_bits(expected) != expected
    if method == "tarzst":  # once is enough to prove the option
        run_brs("restore", "latest", "--keep-special-bits", "--discard-previous", env=env, check=True)
        assert tree_snapshot(data) == expected


def test_download_gives_the_plain_tar(tmp_path: Path, brs_env: dict[str, str]) -> None:
    import tarfile

    data = make_tree(Path(brs_env["BRS_DB_DATA_DIRECTORY"]), big_file_size=1 << 20)
    env = {**brs_env, "BRS_ENCRYPTION_KEY_FILE": str(tmp_path / "key"), "BRS_COMPRESSION_METHOD": "tarlz4"}
    version = run_brs("backup", env=env, check=True).stdout.strip()
    output = tmp_path / "out.tar"
    run_brs("download", version, "-o", str(output), env=env, check=True)
    with tarfile.open(output) as archive:
        names = archive.getnames()
    assert "data/big.bin" in names and "data/a/b/c/deep.txt" in names
    assert not list(tmp_path.glob("*.partial"))
    assert data.exists()
