"""Reusable tests for plugin authors.

Subclass the contract classes in your plugin's tests and provide the fixtures they name::

    from brs.testing import StorageContract

    class TestMyStorage(StorageContract):
        @pytest.fixture
        def storage_factory(self, my_server):
            def make(prefix: str) -> Storage:
                return MyStorage(PluginContext(name="mine", settings=MyOptions(...), object_prefix=prefix))
            return make

Every in-repo plugin does this, and core runs the suites against its own built-ins.

Besides the contracts, the kit has what plugin tests keep needing:

- running the CLI: :func:`run_brs`, :class:`LocalStoreCLI`, :func:`assert_ok`,
  :func:`one_line_error`, :func:`assert_one_line_error`, :func:`listed_backups`;
- test servers: :func:`free_port`, :func:`wait_for_port`, :func:`wait_for_http`,
  :func:`stop_server`, :func:`kill_server`, the :class:`ServerProcess` mixin, and :func:`serve` / :func:`server_factory` for
  fixtures that start them;
- storage providers: the shared test bodies in :mod:`brs.testing.storage`;
- TLS: :func:`make_certificates`, a CA with server and client certificates;
- proxies: :class:`RelayProxy`, an HTTP relay to build on, and :class:`FlakyProxy`, one that fails
  every n-th request;
- data: :func:`make_tree`, :func:`tree_snapshot`, :func:`cleared_special_bits`, :func:`archive_of`;
- hostile archives and planting them as stored backups: :mod:`brs.testing.hostile`.
"""

from __future__ import annotations

from brs.testing.certificates import make_certificates
from brs.testing.contracts import BULK, CompressionContract, DatabaseContract, StorageContract
from brs.testing.faults import FlakyProxy, InFlightProxy, RelayProxy
from brs.testing.helpers import (
    LocalStoreCLI,
    archive_of,
    assert_ok,
    assert_one_line_error,
    cleared_special_bits,
    listed_backups,
    make_tree,
    one_line_error,
    run_brs,
    tree_snapshot,
)
from brs.testing.processes import (
    ServerProcess,
    free_port,
    kill_server,
    serve,
    server_factory,
    stop_server,
    wait_for_http,
    wait_for_port,
)

__all__ = [
    "BULK",
    "CompressionContract",
    "DatabaseContract",
    "FlakyProxy",
    "InFlightProxy",
    "LocalStoreCLI",
    "RelayProxy",
    "ServerProcess",
    "StorageContract",
    "archive_of",
    "assert_ok",
    "assert_one_line_error",
    "cleared_special_bits",
    "free_port",
    "kill_server",
    "listed_backups",
    "make_certificates",
    "make_tree",
    "one_line_error",
    "run_brs",
    "serve",
    "server_factory",
    "stop_server",
    "tree_snapshot",
    "wait_for_http",
    "wait_for_port",
]
