"""Fixtures for cross-package tests that drive the real ``brs`` CLI."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# The pod simulation (podsim) and its test-only database plugin are in tests/pod_support
# (on the path through pytest's ``pythonpath`` setting).
from podsim import Pod, make_pods

KEY = "0123456789abcdef0123456789abcdef"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/ runs brs end to end (processes, sidecars, pods): ``integration``.

    ``make test-unit`` leaves these out; ``make test`` runs them all.
    """
    here = Path(__file__).resolve().parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def brs_key() -> str:
    """The encryption key written to ``tmp_path / "key"`` by :func:`brs_env`."""
    return KEY


@pytest.fixture
def brs_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a localfs + local storage setup below ``tmp_path``."""
    (tmp_path / "key").write_text(KEY + "\n")
    return {
        "BRS_DB": "localfs",
        "BRS_DB_DATA_DIRECTORY": str(tmp_path / "data"),
        "BRS_LOCAL_PROVIDER_BACKUP_PATH": str(tmp_path / "store"),
        "BRS_LOG_FORMAT": "json",
    }


@pytest.fixture
def pods(tmp_path: Path) -> Iterator[Callable[..., Pod]]:
    """Start simulated pods (``brs start`` + ``brs wait``); every process is stopped afterwards."""
    make, cleanup = make_pods(tmp_path)
    yield make
    cleanup()
