"""The sidecar runtime: ``brs start`` (initializer, API, metrics, schedule) and ``brs wait``.

Modules, one job each:

- :mod:`~brs.sidecar.state`: the shared, observable state (initializer status, desired
  database state, the waiter's acknowledgements) that the waiter long-polls.
- :mod:`~brs.sidecar.lock`: one backup or restore at a time.
- :mod:`~brs.sidecar.service`: backup, restore and verify as the sidecar runs them.
- :mod:`~brs.sidecar.initializer`: the start-up sequence that decides on a restore.
- :mod:`~brs.sidecar.scheduler`: backups on a cron schedule.
- :mod:`~brs.sidecar.api`: the HTTP API; :mod:`~brs.sidecar.client`: its client.
- :mod:`~brs.sidecar.metrics`: Prometheus metrics, fed by lifecycle hooks.
- :mod:`~brs.sidecar.waiter` and :mod:`~brs.sidecar.exec`: ``brs wait`` and child processes.
"""

from __future__ import annotations
