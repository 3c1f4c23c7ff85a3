"""Reusable tests for plugin authors.

Subclass the contract classes in your plugin's tests and provide the fixtures they name::

    from brs.testing import StorageContract

    class TestMyStorage(StorageContract):
        @pytest.fixture
        def storage_factory(self, my_server):
            def make(prefix: str) -> Storage:
                return MyStorage(PluginContext(name="mine", options={...}, object_prefix=prefix))
            return make

Every in-repo plugin does this, and core runs the suites against its own built-ins.
"""

from __future__ import annotations

from brs.testing.contracts import CompressionContract, DatabaseContract, StorageContract
from brs.testing.helpers import make_tree, run_brs, tree_snapshot

__all__ = ["CompressionContract", "DatabaseContract", "StorageContract", "make_tree", "run_brs", "tree_snapshot"]
