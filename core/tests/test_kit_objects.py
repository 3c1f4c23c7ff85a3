"""brs.kit.objects: the object-name rule and object keys below a prefix folder."""

from __future__ import annotations

import pytest

from brs.errors import StorageError
from brs.kit.objects import ObjectKeys, check_object_name


@pytest.mark.parametrize("name", ["20261126T120000Z.tar.zst.age", "a", "x.manifest.json", "db..tar"])
def test_plain_names_pass(name: str) -> None:
    assert check_object_name(name) == name


@pytest.mark.parametrize("name", ["", ".", "..", ".brs-lock", "a/b", "../x", "a\\b", "/etc/passwd"])
def test_paths_hidden_and_empty_names_are_refused(name: str) -> None:
    with pytest.raises(StorageError, match="invalid object name"):
        check_object_name(name)


def test_keys_live_in_the_prefix_folder() -> None:
    keys = ObjectKeys.below("/team/db/")
    assert keys.folder == "team/db/"
    assert keys.key("one") == "team/db/one"
    assert keys.name("team/db/one") == "one"
    for foreign in ("team/db-2/one", "team/db/", "team/db/nested/one", "other"):
        assert keys.name(foreign) is None
    with pytest.raises(StorageError):
        keys.key("../db-2/one")


def test_no_prefix_is_the_top_level() -> None:
    keys = ObjectKeys.below("")
    assert keys.folder == "" and keys.key("one") == "one"
    assert keys.name("one") == "one" and keys.name("db/one") is None
