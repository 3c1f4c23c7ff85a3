"""Peak memory, throughput and CPU of brs backing up to and restoring from S3, GCS and Azure.

Every measured run is ``brs backup`` / ``brs restore latest`` exactly as a user runs them
(localfs database plugin, tarlz4, AES-256-GCM encryption) against the emulator that the storage
plugin's own tests start: moto (over TLS, as AWS is reached) for S3, gcp-storage-emulator for
GCS, Azurite for Azure, each on a free loopback port, started here and stopped at the end. A
server that is not installed or does not start fails the benchmark; nothing is skipped. Peak
RSS is the VmHWM of the brs process itself, polled as in ``bench/pipeline.py``; the big and the
small corpus show whether it grows with the data. See docs/performance.md for the figures.

Usage: ``make bench`` or ``.venv/bin/python bench/storage.py [--size-mib N] [--small-mib N] [--providers s3,gcs]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from brs.testing.processes import Startable

import corpus as corpora
import pipeline
from pipeline import RSS_TARGET_MIB, Run

PROVIDERS = ("s3", "gcs", "azure")
METHOD = "tarlz4"
#: Backups kept per provider: the older one is pruned by the next backup, so the emulators,
#: which keep everything in memory, hold at most two.
KEEP_LAST = "1"

#: The ``BRS_*`` environment of a provider, for a brs home directory (key file, secrets) and a bucket.
Environment = Callable[[Path, str], dict[str, str]]


def _s3(pki: Path) -> tuple[Startable, Environment]:
    """moto over TLS, as the S3 plugin's TLS tests run it: AWS is always reached over TLS, and
    botocore sends upload checksums differently there (as a trailer of a chunked body)."""
    from brs.testing import make_certificates
    from brs_storage_s3.testing import Moto, moto_target, unique_bucket

    make_certificates(pki)
    server = Moto(tls=(pki / "server.crt", pki / "server.key"))

    def environment(home: Path, tag: str) -> dict[str, str]:
        env = moto_target(server).env(home, unique_bucket(tag), prefix="bench")
        return {**env, "BRS_S3_TRUSTED_CA_CERT": str(pki / "ca.crt")}

    return server, environment


def _gcs(pki: Path) -> tuple[Startable, Environment]:
    """gcp-storage-emulator (in memory), as the GCS plugin's tests run it."""
    from brs_storage_gcs.testing import Emulator, unique_bucket

    server = Emulator()
    return server, lambda home, tag: server.env(home, unique_bucket(tag), prefix="bench")


def _azure(pki: Path) -> tuple[Startable, Environment]:
    """Azurite (in memory), as the Azure plugin's tests run it."""
    from brs_storage_azure.testing import Azurite, unique_container

    server = Azurite()
    return server, lambda home, tag: server.env(home, unique_container(tag), prefix="bench")


#: Each provider's emulator (not started yet) and its environment; the argument is a directory
#: for TLS certificates.
EMULATORS: dict[str, Callable[[Path], tuple[Startable, Environment]]] = {"s3": _s3, "gcs": _gcs, "azure": _azure}


@contextmanager
def emulator(provider: str, pki: Path) -> Iterator[Environment]:
    """The provider's emulator on a free loopback port while the block runs; a server that is
    missing or does not start ends the benchmark with its reason."""
    server, environment = EMULATORS[provider](pki)
    try:
        server.start()
    # A server that exits or never answers raises RuntimeError; a missing one, pytest.fail.
    except (OSError, RuntimeError, pytest.fail.Exception) as error:
        sys.exit(f"the {provider} emulator did not start: {error}")
    try:
        yield environment
    finally:
        server.stop()


class StorageBench(pipeline.Bench):
    """Backup and restore rounds through each provider; every run is a :class:`pipeline.Run`
    whose ``tool`` is the provider."""

    @property
    def pki(self) -> Path:
        """Certificates of the emulators that serve TLS."""
        return self.workdir / "run-pki"

    def run_provider(self, provider: str, environment: Environment, infos: list[corpora.CorpusInfo], rounds: int) -> None:
        """For each round and corpus: one backup to the provider, then a restore from it, verified in round 1."""
        for info in infos:
            home = self.workdir / f"run-{provider}-home-{info.kind}"
            env = {
                **environment(home, f"bench-{provider}"),
                "BRS_COMPRESSION_METHOD": METHOD,
                "BRS_ENCRYPTION_KEY_FILE": str(self.key_file),
                "BRS_KEEP_LAST": KEEP_LAST,
            }
            # The home holds the key and secret files the environment names; libuuid keeps its
            # clock state for time-based UUIDs (the SDKs' request ids) in /var/lib/libuuid.
            allowed = [home, self.key_file, self.pki, Path("/var/lib/libuuid"), *pipeline._RUNTIME_PATHS]
            source = Path(info.path)
            for number in range(1, rounds + 1):
                scratch = self.workdir / f"run-{provider}"
                shutil.rmtree(scratch, ignore_errors=True)
                scratch.mkdir()
                lock = source.parent / f".{source.name}.brs-lock"
                backup = Run(provider, METHOD, "backup", info.kind, number)
                # Nothing is written locally on backup: the "artefact" is a path that never exists.
                self._record(
                    self._measure(
                        backup,
                        [str(self.brs), "backup"],
                        [source, lock, *allowed],
                        scratch / "remote",
                        own_only=True,
                        env={**env, "BRS_DB_DATA_DIRECTORY": str(source)},
                    ),
                    info,
                )
                target = scratch / "restored"
                restore = Run(provider, METHOD, "restore", info.kind, number)
                self._record(
                    self._measure(
                        restore,
                        [str(self.brs), "restore", "latest"],
                        [scratch, *allowed],
                        target,
                        own_only=True,
                        env={**env, "BRS_DB_DATA_DIRECTORY": str(target)},
                    ),
                    info,
                )
                if number == 1 and restore.exit_code == 0:
                    restore.error = pipeline._compare_trees(source, target)
                shutil.rmtree(scratch, ignore_errors=True)


# -- summary --------------------------------------------------------------------------------
def summarise(runs: list[Run], sizes: dict[str, int], providers: list[str]) -> list[dict[str, Any]]:
    """One row per provider, direction and corpus: medians over the rounds, the worst peak RSS."""
    rows = []
    for provider in providers:
        for corpus, size in sizes.items():
            for direction in ("backup", "restore"):
                done = [r for r in runs if (r.tool, r.direction, r.corpus, r.exit_code) == (provider, direction, corpus, 0)]
                if not done:
                    continue
                seconds = pipeline._median(done, "seconds")
                rows.append(
                    {
                        "provider": provider,
                        "direction": direction,
                        "corpus": corpus,
                        "runs": len(done),
                        "mb_s": round(size / seconds / 1e6, 1),
                        "mb_s_min": round(size / max(r.seconds for r in done) / 1e6, 1),
                        "mb_s_max": round(size / min(r.seconds for r in done) / 1e6, 1),
                        "peak_rss_mib": round(max(r.peak_rss_mib for r in done), 1),
                        "median_rss_mib": round(pipeline._median(done, "peak_rss_mib"), 1),
                        # CPU seconds of brs per 10^9 bytes of the directory (the emulator's are not counted).
                        "cpu_s_per_gb": round(pipeline._median(done, "cpu_seconds") / (size / 1e9), 2),
                        "other_cpu_cores": round(pipeline._median(done, "other_cpu_cores"), 2),
                    }
                )
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    header = (
        f"{'provider':8} {'direction':9} {'corpus':12} {'MB/s':>6} {'(min-max)':>10} "
        f"{'peak RSS MiB':>12} {'median RSS':>10} {'CPU s/GB':>8} {'other cores':>11}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        spread = f"{row['mb_s_min']:.0f}-{row['mb_s_max']:.0f}"
        print(
            f"{row['provider']:8} {row['direction']:9} {row['corpus']:12} {row['mb_s']:6.0f} {spread:>10} "
            f"{row['peak_rss_mib']:12.1f} {row['median_rss_mib']:10.1f} {row['cpu_s_per_gb']:8.2f} {row['other_cpu_cores']:11.2f}"
        )


def acceptance(runs: list[Run], providers: list[str], small: str | None, big: str) -> list[dict[str, Any]]:
    """The issue's memory targets per provider and direction, each with the measured figure and PASS/FAIL."""
    checks = []
    for provider in providers:
        for direction in ("backup", "restore"):
            done = [r for r in runs if (r.tool, r.direction, r.exit_code) == (provider, direction, 0)]
            if not done:
                continue
            worst = max(done, key=lambda run: run.peak_rss_mib)
            checks.append(
                {
                    "target": f"peak RSS of brs < {RSS_TARGET_MIB:.0f} MiB ({provider} {direction}, every corpus)",
                    "measured": f"max {worst.peak_rss_mib:.1f} MiB ({worst.corpus}, round {worst.round})",
                    "pass": worst.peak_rss_mib < RSS_TARGET_MIB,
                }
            )
        scaling = pipeline.memory_scaling(runs, small, big, tool=provider) if small else None
        if scaling:
            checks.append(
                {
                    "target": f"{provider}: peak RSS independent of data size "
                    f"(big - small <= {pipeline.SCALING_TOLERANCE_MIB:.0f} MiB)",
                    "measured": scaling["text"],
                    "pass": scaling["pass"],
                }
            )
    measured = [run for run in runs if run.exit_code == 0]
    tmp_files = sorted({entry for run in measured for entry in run.tmpdir_entries})
    unexpected = sorted({path for run in measured for path in run.unexpected_files})
    checks.append(
        {
            "target": "no temporary copy on disk (TMPDIR stays empty, no file opened outside source/destination)",
            "measured": f"TMPDIR entries: {len(tmp_files)}; files opened elsewhere: {len(unexpected)}"
            + (f" {(tmp_files + unexpected)[:5]}" if tmp_files or unexpected else ""),
            "pass": not tmp_files and not unexpected,
        }
    )
    failed = [run for run in runs if run.exit_code or run.error]
    checks.append(
        {
            "target": "every run succeeded and every verified restore matched the source",
            "measured": f"{len(failed)} failed"
            + "".join(f"; {r.tool} {r.direction} {r.corpus}: {r.error[-200:]}" for r in failed[:3]),
            "pass": not failed,
        }
    )
    return checks


def report(args: argparse.Namespace, runs: list[Run], infos: list[corpora.CorpusInfo]) -> dict[str, Any]:
    """Print the table and the targets; return them."""
    sizes = {info.kind: info.bytes for info in infos}
    rows = summarise(runs, sizes, args.providers)
    small = infos[1].kind if len(infos) > 1 else None
    checks = acceptance(runs, args.providers, small, infos[0].kind)
    print()
    print(
        f"brs {METHOD}+encryption through the storage emulators, {corpora.describe(infos[0])}; "
        f"median of {args.rounds} round(s); MB = 10^6 bytes of the directory per second"
    )
    print_table(rows)
    print()
    for check in checks:
        print(f"[{'PASS' if check['pass'] else 'FAIL'}] {check['target']}: {check['measured']}")
    return {"rows": rows, "checks": checks}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = pipeline.corpus_arguments(
        __doc__,
        size_mib=256,
        small_mib=64,
        rounds=2,
        rounds_help="rounds per provider and corpus (medians are reported)",
        workdir_help="scratch directory (corpus cache, restored trees)",
    )
    parser.add_argument("--providers", default=",".join(PROVIDERS), help="comma-separated storage providers")
    args = parser.parse_args(argv)
    args.providers = [p.strip() for p in args.providers.split(",") if p.strip()]
    unknown = [p for p in args.providers if p not in PROVIDERS]
    if unknown:
        parser.error(f"unknown providers {unknown}; choose from {', '.join(PROVIDERS)}")
    args.workdir = args.workdir.resolve()
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bench = StorageBench(args)
    bench.setup()
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    infos = [corpora.ensure_corpus(args.workdir, args.corpus, args.size_mib)]
    if 0 < args.small_mib < args.size_mib:
        small = corpora.ensure_corpus(args.workdir, args.corpus, args.small_mib)
        small.kind = f"{small.kind}-small"  # a distinct label keeps its runs apart from the big corpus's
        infos.append(small)
    for info in infos:
        print(corpora.describe(info))
    print(f"{args.rounds} round(s) per corpus, providers {', '.join(args.providers)}, {METHOD}, encrypted (AES-256-GCM)")
    try:
        for provider in args.providers:
            with emulator(provider, bench.pki) as environment:
                print(f"{provider}: emulator started", flush=True)
                bench.run_provider(provider, environment, infos, args.rounds)
    finally:
        for scratch in args.workdir.glob("run-*"):
            shutil.rmtree(scratch, ignore_errors=True)
        if not args.keep:
            for info in infos:
                shutil.rmtree(info.path, ignore_errors=True)
                Path(info.path + ".json").unlink(missing_ok=True)
    summary = report(args, bench.runs, infos)
    result = {
        "started": started,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": pipeline.machine(),
        "corpora": [asdict(info) for info in infos],
        "summary": summary["rows"],
        "acceptance": summary["checks"],
        "runs": [asdict(run) for run in bench.runs],
    }
    results = Path(__file__).resolve().parent / "results"
    results.mkdir(exist_ok=True)
    path = results / f"storage-{infos[0].kind}-{args.size_mib}m-{started.replace(':', '')}.json"
    path.write_text(json.dumps(result, indent=1))
    print(f"\nresults written to {path}")
    return 1 if args.strict and not all(check["pass"] for check in summary["checks"]) else 0


if __name__ == "__main__":
    sys.exit(main())
