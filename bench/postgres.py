"""A PostgreSQL base backup through brs (tarzst, encrypted) against bare ``pg_basebackup``.

The floor is ``pg_basebackup -Ft -D - -X fetch -c fast > /dev/null`` on the same cluster: what
brs runs itself, without compression, encryption or storage. Both run in interleaved rounds
(the order flips every round) against a cluster filled by ``pgbench -i``; the figure is the
ratio of the median wall times. CPU seconds are the process's and its children's (brs with its
pg_basebackup; the bare pg_basebackup), per GB of the cluster's databases; the server's own CPU
(the backends that send the files, the same work for both) is shown beside them. One untimed
brs backup comes first: like an installed brs, the measured ones then start from compiled
bytecode, and the copy of the server programs that the first backup keeps is already there.
The cluster runs as the ``postgres`` account on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from brs_postgres.testing import PASSWORD, PgCluster, bindir_for
from pipeline import installed_environment

#: brs's base backup may take at most this many times the bare pg_basebackup.
RATIO_TARGET = 1.3
_KEY = "bench-key-0123456789abcdef012345"


def _timed(argv: list[str], env: dict[str, str], stdout: int | None = None) -> tuple[float, float]:
    """Wall seconds and CPU seconds (the process and its children) of one run."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=stdout, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    assert process.stderr is not None
    error = process.stderr.read().decode(errors="replace").strip()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{argv[0]} failed ({process.returncode}): {error[-400:]}")
    return seconds, usage.ru_utime + usage.ru_stime


def _server_cpu(cluster: PgCluster) -> float:
    """CPU seconds the server has used so far: its processes, live or not yet reaped, and the
    backends the postmaster has reaped (a backup's sender exits about when pg_basebackup does)."""
    postmaster = (cluster.data / "postmaster.pid").read_text().split()[0]
    children = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if fields[1] == postmaster:
            children += int(fields[11]) + int(fields[12])  # utime + stime
    fields = Path(f"/proc/{postmaster}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])  # own + reaped children
    return (children + ticks) / os.sysconf("SC_CLK_TCK")


def _cluster(bindir: Path, workdir: Path, scale: int) -> PgCluster:
    """The benchmark cluster, filled by pgbench once and kept in ``workdir`` between runs."""
    root = workdir / f"pgbench-s{scale}"
    cluster = PgCluster(bindir, root)
    if (cluster.data / "PG_VERSION").exists():
        return cluster.prepare().start()
    shutil.rmtree(root, ignore_errors=True)
    cluster.init().start()
    print(f"filling the cluster with pgbench -i -s {scale} (once; kept in {root}) ...", flush=True)
    env = {**os.environ, "PGPASSWORD": PASSWORD}
    common = ["-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres"]
    subprocess.run([str(bindir / "pgbench"), *common, "-i", "-q", "-s", str(scale), "postgres"], env=env, check=True)
    subprocess.run([str(bindir / "psql"), *common, "-q", "-c", "CHECKPOINT", "postgres"], env=env, check=True)
    return cluster


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--scale", type=int, default=60, help="pgbench scale (60 is about 1 GiB)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/brs-bench-pg"))
    parser.add_argument("--keep", action="store_true", help="keep the cluster for the next run")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    parser.add_argument(
        "--basebackup-compression", default="auto", choices=("auto", "server", "lz4", "none"),
        help="brs's --postgres-basebackup-compression (lz4: pg_basebackup's lz4 stream; none: the plain stream)",
    )  # fmt: skip
    args = parser.parse_args(argv)

    args.workdir.mkdir(parents=True, exist_ok=True)
    os.chmod(args.workdir, 0o755)  # the postgres account enters it
    bindir = bindir_for(15)
    cluster = _cluster(bindir, args.workdir, args.scale)
    store, key = args.workdir / "store", args.workdir / "key"
    key.write_text(_KEY)
    brs = Path(sys.executable).parent / "brs"
    env = {**installed_environment(), "PGPASSWORD": PASSWORD, "BRS_POSTGRES_PASSWORD": PASSWORD}
    floor = [
        str(bindir / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres",
        "--no-password", "-Ft", "-D", "-", "-X", "fetch", "-c", "fast",
    ]  # fmt: skip
    backup = [
        str(brs), "backup", "--db", "postgres", "--db-data-directory", str(cluster.data),
        *cluster.cli_args(), "--postgres-backup-method", "basebackup",
        "--backup-provider", "local", "--local-provider-backup-path", str(store),
        "--compression-method", "tarzst", "--encryption-key-file", str(key), "--log-level", "warning",
        "--postgres-basebackup-compression", args.basebackup_compression,
    ]  # fmt: skip
    walls: dict[str, list[float]] = {"pg_basebackup": [], "brs": []}
    cpus: dict[str, list[float]] = {"pg_basebackup": [], "brs": []}
    stored: list[int] = []
    try:
        size = int(
            subprocess.run(
                [str(bindir / "psql"), "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres", "-At",
                 "-c", "SELECT sum(pg_database_size(datname)) FROM pg_database", "postgres"],
                env=env, check=True, capture_output=True, text=True,
            ).stdout.strip()
        )  # fmt: skip
        print(f"cluster: pgbench scale {args.scale}, {size / 1e6:.0f} MB in its databases; {args.rounds} interleaved round(s)")
        shutil.rmtree(store, ignore_errors=True)
        store.mkdir()
        with open(os.devnull, "wb") as null:
            _timed(backup, env, stdout=null.fileno())  # untimed: bytecode and the saved programs, as installed
        for round_number in range(args.rounds):
            order = ["pg_basebackup", "brs"] if round_number % 2 == 0 else ["brs", "pg_basebackup"]
            for tool in order:
                shutil.rmtree(store, ignore_errors=True)
                store.mkdir()
                subprocess.run(["sync"], check=True)
                server_before = _server_cpu(cluster)
                with open(os.devnull, "wb") as null:
                    wall, cpu = _timed(backup if tool == "brs" else floor, env, stdout=null.fileno())
                server = _server_cpu(cluster) - server_before
                walls[tool].append(wall)
                cpus[tool].append(cpu)
                extra = ""
                if tool == "brs":
                    stored.append(sum(path.stat().st_size for path in store.iterdir() if not path.name.endswith(".json")))
                    extra = f"  stored {stored[-1] / 1e6:6.1f} MB"
                line = f"  r{round_number + 1} {tool:13} {wall:6.2f} s  cpu {cpu:5.2f} s  server cpu {server:5.2f} s"
                print(line + extra, flush=True)
    finally:
        cluster.stop()
        shutil.rmtree(store, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(cluster.root, ignore_errors=True)
    floor_s, brs_s = statistics.median(walls["pg_basebackup"]), statistics.median(walls["brs"])
    ratio = brs_s / floor_s
    passed = ratio <= RATIO_TARGET
    print(
        f"\n[{'PASS' if passed else 'FAIL'}] PostgreSQL basebackup, tarzst+encryption <= {RATIO_TARGET}x "
        f"pg_basebackup -Ft -D - -X fetch > /dev/null: {ratio:.2f}x ({brs_s:.2f} vs {floor_s:.2f} s, medians; "
        f"CPU s/GB: brs {statistics.median(cpus['brs']) / (size / 1e9):.2f}, "
        f"pg_basebackup {statistics.median(cpus['pg_basebackup']) / (size / 1e9):.2f}; "
        f"--postgres-basebackup-compression {args.basebackup_compression}, stored {statistics.median(stored) / 1e6:.1f} MB)"
    )
    return 1 if args.strict and not passed else 0


if __name__ == "__main__":
    sys.exit(main())
