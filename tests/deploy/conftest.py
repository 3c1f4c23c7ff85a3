"""Renders of the Helm chart, made once per test session and shared by the deployment tests."""

from __future__ import annotations


import pytest

from deploy_support import Render, render_all


@pytest.fixture(scope="session")
def renders() -> list[Render]:
    """Every database x storage x model combination, rendered once."""
    return render_all()


@pytest.fixture(scope="session")
def good_renders(renders: list[Render]) -> list[Render]:
    """The combinations the chart accepts."""
    return [r for r in renders if not r.error]
