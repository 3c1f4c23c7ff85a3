"""With a real PostgreSQL 15: no local restore under a running server, and no temporary server
outliving a killed restore."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from podsim import pid_alive, wait_for

from brs.testing.helpers import assert_one_line_error, run_brs
from brs_postgres.testing import PASSWORD, PgCluster, bindir_for, load_sample, sample_snapshot, world_tempdir

pytestmark = pytest.mark.server("postgres")

KEY = "0123456789abcdef0123456789abcdef"


class Setup:
    def __init__(self) -> None:
        self.cluster = PgCluster(bindir_for(15), world_tempdir("brs-faults-pg-")).init().start()
        load_sample(self.cluster)
        self.expected = sample_snapshot(self.cluster)
        self.storage = self.cluster.root / "backups"
        self.env = {"BRS_POSTGRES_PASSWORD": PASSWORD, "BRS_ENCRYPTION_KEY": KEY, "BRS_LOG_FORMAT": "json"}
        self.args = [
            "--db", "postgres", "--db-data-directory", str(self.cluster.data),
            "--local-provider-backup-path", str(self.storage), *self.cluster.cli_args(),
        ]  # fmt: skip
        self.version = run_brs(
            "backup", *self.args, "--postgres-backup-method", "dumpall", env=self.env, check=True
        ).stdout.strip()

    def leftovers(self) -> list[str]:
        return sorted(p.name for p in self.cluster.root.iterdir() if ".brs-" in p.name and not p.name.endswith("brs-lock"))


@pytest.fixture(scope="module")
def setup() -> Iterator[Setup]:
    made = Setup()
    yield made
    made.cluster.destroy()
    shutil.rmtree(made.cluster.root, ignore_errors=True)


def _processes_in(directory: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(os.readlink(entry / "cwd")).is_relative_to(directory):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_a_local_restore_refuses_while_postgres_runs(setup: Setup) -> None:
    data_before = setup.cluster.data.stat().st_ino
    line = assert_one_line_error(run_brs("restore", setup.version, *setup.args, env=setup.env), "server is running", "--server")
    assert "postgres" in line
    assert setup.cluster.data.stat().st_ino == data_before and setup.leftovers() == []
    assert sample_snapshot(setup.cluster) == setup.expected  # the server runs on, on its own files


def test_a_temporary_server_never_outlives_a_killed_restore(setup: Setup) -> None:
    setup.cluster.stop()
    killed = run_brs("restore", setup.version, *setup.args, env={**setup.env, "BRS_TEST_KILL_AT": "postgres-temporary-server"})
    assert killed.returncode == -9, killed.stderr
    (staging,) = [setup.cluster.root / name for name in setup.leftovers() if "staging" in name]
    # The server was running when brs was killed (its lock file names it), and died with brs.
    server = int((staging / "postmaster.pid").read_text().split("\n", 1)[0])
    wait_for(lambda: not pid_alive(server) and not _processes_in(staging), 30, "the temporary server to die with brs")

    run_brs("restore", setup.version, *setup.args, env=setup.env, check=True)
    assert not staging.exists()
    kept: dict[str, Any] = {"previous": [n for n in setup.leftovers() if "previous" in n]}
    assert len(kept["previous"]) == 1  # the replaced data directory is kept aside, not deleted
    setup.cluster.start()
    assert sample_snapshot(setup.cluster) == setup.expected
