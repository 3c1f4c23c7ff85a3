"""The plugin kit: what database and storage plugins share, so that none writes it again.

Import from the modules (``from brs.kit.server import TemporaryServer``); each has one job:

- :mod:`brs.kit.server`: a temporary server on loopback (free port, wait until ready, stop,
  never outlive the process), for restores that load data through a server;
- :mod:`brs.kit.uploads`: bounded parted uploads (memory of a few parts, whatever the size);
- :mod:`brs.kit.objects`: the object-name rule every storage plugin enforces;
- :mod:`brs.kit.metadata`: the in-archive metadata member a database plugin writes first;
- :mod:`brs.kit.errors`: error messages that never carry a secret.

Test helpers live in :mod:`brs.testing` and, per plugin, in ``brs_<package>.testing``.
"""
