"""Start-up time of the CLI as a ratio to a bare interpreter (``python -c pass``).

Measures ``brs --help`` (the command tree only: no engine, no plugins) and ``brs backups list``
on local storage holding a few backups (engine, manifests, plugin discovery), each as the median
of several runs of a fresh process, in wall-clock and CPU time (CPU time is steadier on a busy
machine), and prints each target with PASS or FAIL: ``brs --help`` under 150 ms and
``brs backups list`` under 300 ms (wall-clock, on an idle machine: on a busy one compare the
ratios to ``python -c pass``). Nothing is asserted: the figures go into docs/performance.md.

    .venv/bin/python bench/startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipeline import installed_environment

BRS = str(Path(sys.executable).with_name("brs"))


def _run(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user + system) of one run of ``argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _median(argv: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    _run(argv, env)  # warm the page cache and the bytecode cache
    samples = [_run(argv, env) for _ in range(runs)]
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


#: Start-up targets in milliseconds of wall-clock time.
TARGETS = {"brs --help": 150, "brs backups list": 300}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="brs-startup-"))
    try:
        data, store = work / "data", work / "store"
        data.mkdir()
        (data / "table").write_bytes(os.urandom(4096))
        env = {
            **installed_environment(),
            "BRS_DB": "localfs",
            "BRS_DB_DATA_DIRECTORY": str(data),
            "BRS_LOCAL_PROVIDER_BACKUP_PATH": str(store),
            "BRS_LOG_FORMAT": "json",
        }
        for _ in range(5):
            subprocess.run([BRS, "backup"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        cases = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "brs --help": [BRS, "--help"],
            "brs backups list": [BRS, "backups", "list"],
        }
        results = {name: _median(argv, env, args.runs) for name, argv in cases.items()}
        base_wall, base_cpu = results["python -c pass"]
        print(f"{'command':<20} {'wall ms':>8} {'cpu ms':>8} {'wall ratio':>11} {'cpu ratio':>10}")
        for name, (wall, cpu) in results.items():
            print(f"{name:<20} {wall * 1000:8.0f} {cpu * 1000:8.0f} {wall / base_wall:11.1f} {cpu / base_cpu:10.1f}")
        load = os.getloadavg()[0]
        for name, limit in TARGETS.items():
            wall = results[name][0] * 1000
            verdict = "PASS" if wall < limit else "FAIL"
            print(f"[{verdict}] {name} < {limit} ms: {wall:.0f} ms ({wall / (base_wall * 1000):.1f}x python -c pass)")
        print(f"load average during the run: {load:.2f} (the targets are for an idle machine)")
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
