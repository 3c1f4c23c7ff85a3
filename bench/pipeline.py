"""Backup and restore throughput, memory and scratch-disk use of brs against the shell pipeline.

Every measured run is a separate process: ``brs backup`` / ``brs restore`` exactly as a user runs
them (localfs database plugin, local storage, AES-256-GCM encryption), and for comparison the
equivalent shell pipeline ``tar | <compressor> | openssl enc -aes-256-ctr > file`` and its reverse.
brs and shell runs alternate round-robin in one process, so drift of the shared host hits both
alike; medians are reported. See docs/performance.md for the method and the measured figures.

Usage: ``make bench`` or ``.venv/bin/python bench/pipeline.py [--quick] [--size-mib N] ...``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import corpus as corpora

MIB = 1 << 20
METHODS = ("tar", "targz", "tarlz4", "tarzst")
#: Compressor command of the shell analogue of each brs method (compress, decompress).
SHELL_CODECS: dict[str, tuple[str, str] | None] = {
    "tar": None,
    "targz": ("gzip -1 -c", "gzip -d -c"),
    "tarlz4": ("lz4 -1 -q -c", "lz4 -d -q -c"),
    "tarzst": ("zstd -3 -q -c", "zstd -d -q -c"),
}
#: Acceptance targets: brs / shell throughput per method and direction. tarlz4 and tarzst must
#: beat the shell pipeline clearly; gzip must stay at least level with it (ISA-L against gzip -1).
RATIO_TARGETS: dict[tuple[str, str], float] = {
    ("tarlz4", "backup"): 1.5,
    ("tarzst", "backup"): 1.5,
    ("tarlz4", "restore"): 1.2,
    ("tarzst", "restore"): 1.2,
    ("targz", "backup"): 1.0,
    ("targz", "restore"): 1.0,
}
RSS_TARGET_MIB = 48.0
#: Scratch-disk growth beyond the final artefact still counted as "no temporary copy":
#: other users of the shared file system cause small changes of the free space.
TEMP_DISK_TOLERANCE_MIB = 32.0
#: Peak RSS of the big corpus may exceed the small corpus's by this much and still be "equal".
SCALING_TOLERANCE_MIB = 4.0
_POLL = 0.01  # seconds between samples of RSS and free space
_FD_EVERY = 5  # scan open files every this many samples
RESERVED_STAGING = ".brs-staging-"  # restore staging directory, renamed to the target at the end
_KEY = "bench-key-0123456789abcdef012345"  # 32 ASCII characters, as brs expects
REPO = Path(__file__).resolve().parent.parent
#: Where the brs process may legitimately open files besides its source and destination.
#: stevedore keeps its cache of entry points in ~/.cache/python-entrypoints.
_RUNTIME_PATHS = [
    REPO,
    Path(sys.prefix),
    Path(sys.base_prefix),
    Path("/usr"),
    Path("/etc"),
    Path.home() / ".cache" / "python-entrypoints",
]


@dataclass
class Run:
    """One measured process (or pipeline of processes)."""

    tool: str  # "brs" or "shell"
    method: str
    direction: str  # "backup" or "restore"
    corpus: str
    round: int
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    other_cpu_cores: float = 0.0  # CPU used meanwhile by processes outside this run
    peak_rss_mib: float = 0.0  # brs: the process itself; shell: summed over the pipeline
    children_rss_mib: float = 0.0  # brs: peak of any child process it spawned (not counted above)
    temp_disk_mib: float = 0.0  # peak scratch use minus what remained at the end
    artefact_bytes: int = 0
    tmpdir_entries: list[str] = field(default_factory=list)
    system_tmp_new: list[str] = field(default_factory=list)  # new in /tmp meanwhile, maybe not ours
    transient_entries: list[str] = field(default_factory=list)  # appeared and vanished in scratch
    unexpected_files: list[str] = field(default_factory=list)
    # The sync right after the run: writing back what it left dirty. brs syncs its object or
    # restored tree before it exits (a restore must be on disk before it replaces anything);
    # the shell pipeline leaves that to the kernel, after its clock has stopped.
    flush_seconds: float = 0.0
    exit_code: int = 0
    error: str = ""


class Monitor(threading.Thread):
    """Samples a running process tree: peak VmHWM, free scratch space, temp files, open files.

    ``VmHWM`` is read from ``/proc`` rather than ``ru_maxrss``, which after a vfork-based spawn
    can report the parent's high-water mark instead of the child's.
    """

    def __init__(
        self, pid: int, scratch: Path, tmpdir: Path, allowed: list[Path], watched: list[Path], *, own_only: bool
    ) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.own_only = own_only
        self.scratch = scratch
        self.tmpdir = tmpdir
        self.watched = watched
        self.seen: set[str] = set()  # entries of the watched directories during the run
        self.allowed = [str(path) for path in allowed]
        self.stop = threading.Event()
        self.hwm: dict[int, int] = {}
        self.min_free = _free_bytes(scratch)
        self.tmp_entries: set[str] = set()
        self.unexpected: set[str] = set()

    def run(self) -> None:
        tick = 0
        while not self.stop.is_set():
            for pid in self._tree():
                kib = _vm_hwm_kib(pid)
                if kib:
                    self.hwm[pid] = max(self.hwm.get(pid, 0), kib)
                if tick % _FD_EVERY == 0:
                    self._scan_files(pid)
            self.min_free = min(self.min_free, _free_bytes(self.scratch))
            if tick % _FD_EVERY == 0:
                self.tmp_entries.update(os.listdir(self.tmpdir))
                self.seen.update(_entries(self.watched))
            tick += 1
            self.stop.wait(_POLL)

    def _tree(self) -> list[int]:
        """The process and its children (the members of a shell pipeline)."""
        try:
            children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        except OSError:
            children = []
        return [self.pid, *map(int, children)]

    def _scan_files(self, pid: int) -> None:
        """Remember regular files the process has open outside the places it is meant to use."""
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            return
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            # /sys too: libraries read the cgroup's CPU quota there (cgroup v1's cpu.cfs_period_us).
            is_file = target.startswith("/") and not target.startswith(("/dev/", "/proc/", "/sys/"))
            if is_file and not any(target == root or target.startswith(root + "/") for root in self.allowed):
                self.unexpected.add(target)

    @property
    def peak_rss_mib(self) -> float:
        """The process's own peak, or the sum over the pipeline's processes.

        A child that brs spawns (a library probing the platform runs ``file``) is not brs's
        memory: between vfork and exec it even reports brs's own high-water mark again.
        """
        if self.own_only:
            return self.hwm.get(self.pid, 0) / 1024
        return sum(self.hwm.values()) / 1024

    @property
    def children_rss_mib(self) -> float:
        return max((kib for pid, kib in self.hwm.items() if pid != self.pid), default=0) / 1024


def _entries(directories: list[Path]) -> set[str]:
    """Paths of the entries directly inside ``directories`` (missing ones are skipped)."""
    found: set[str] = set()
    for directory in directories:
        try:
            found.update(str(directory / name) for name in os.listdir(directory))
        except OSError:
            continue
    return found


def _vm_hwm_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _free_bytes(path: Path) -> int:
    info = os.statvfs(path)
    return info.f_bavail * info.f_frsize


def _busy_seconds() -> float:
    """CPU seconds all processes of the machine have used since boot (from /proc/stat)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def installed_environment() -> dict[str, str]:
    """The environment without ``PYTHONDONTWRITEBYTECODE``: pip compiles brs's bytecode when it
    installs it, and with that variable set (some shells and CI set it) a checkout would compile
    every changed module at every start, which is not brs's cost."""
    return {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def compile_checkout() -> None:
    """Compile the checkout's modules now, as pip does at installation, not in a measured run."""
    sources = [REPO / "core" / "src", *sorted((REPO / "plugins").glob("*/src"))]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *map(str, sources)], env=installed_environment(), check=True)


class Bench:
    """Runs the interleaved rounds and collects :class:`Run` records."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.workdir: Path = args.workdir
        self.tmpdir = self.workdir / "tmp"  # TMPDIR of every measured run; must stay empty
        self.key_file = self.workdir / "key"
        self.brs = Path(sys.executable).parent / "brs"
        self.runs: list[Run] = []

    def setup(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.tmpdir.mkdir(exist_ok=True)
        self.key_file.write_text(_KEY)
        for stale in self.workdir.glob("run-*"):
            shutil.rmtree(stale, ignore_errors=True)
        if not self.brs.exists():
            sys.exit(f"brs CLI not found next to {sys.executable}; run `make dev` first")
        compile_checkout()
        missing = [tool for tool in ("tar", "gzip", "lz4", "zstd", "openssl") if shutil.which(tool) is None]
        if missing:
            sys.exit(f"missing shell tools for the baseline: {', '.join(missing)}")

    # -- one measured process -------------------------------------------------------------
    def _measure(
        self, run: Run, argv: list[str], allowed: list[Path], artefact: Path, *, own_only: bool, env: dict[str, str] | None = None
    ) -> Run:
        """Run ``argv`` to completion (with ``env`` added to the environment) and fill ``run`` with what was measured."""
        watched = [artefact.parent, *(p for p in allowed if p.is_dir() and self.workdir in p.parents)]
        system_tmp = set(os.listdir("/tmp"))
        env = {
            **installed_environment(),
            **(env or {}),
            "TMPDIR": str(self.tmpdir),
            "BRS_LOG_FORMAT": "json",
            "BRS_LOG_LEVEL": "warning",
        }
        os.sync()  # start every run without someone else's dirty pages being written back
        busy = _busy_seconds()
        started = time.perf_counter()
        process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        monitor = Monitor(process.pid, self.workdir, self.tmpdir, allowed, watched, own_only=own_only)
        monitor.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:  # Ctrl-C: do not leave the measured process running
            process.kill()
            os.wait4(process.pid, 0)
            raise
        finally:
            run.seconds = time.perf_counter() - started
            monitor.stop.set()
            monitor.join()
        flushed = time.perf_counter()
        os.sync()
        run.flush_seconds = time.perf_counter() - flushed
        process.returncode = os.waitstatus_to_exitcode(status)
        stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
        run.exit_code = process.returncode
        if run.exit_code:
            run.error = stderr.strip()[-2000:]
        run.cpu_seconds = usage.ru_utime + usage.ru_stime
        run.other_cpu_cores = max(0.0, (_busy_seconds() - busy - run.cpu_seconds) / run.seconds)
        run.peak_rss_mib = monitor.peak_rss_mib
        run.children_rss_mib = monitor.children_rss_mib if own_only else 0.0
        free_after = _free_bytes(self.workdir)
        run.temp_disk_mib = max(0, free_after - monitor.min_free) / MIB
        run.artefact_bytes = _tree_bytes(artefact)
        run.tmpdir_entries = sorted(monitor.tmp_entries | set(os.listdir(self.tmpdir)))
        run.unexpected_files = sorted(monitor.unexpected)
        run.system_tmp_new = sorted(set(os.listdir("/tmp")) - system_tmp)
        # Names under which brs writes its final artefact before renaming it into place.
        renamed = (".brs-upload-", RESERVED_STAGING, ".brs-swap.json")
        run.transient_entries = sorted(
            path for path in monitor.seen - _entries(watched) if not any(mark in Path(path).name for mark in renamed)
        )
        for entry in os.listdir(self.tmpdir):  # leave the next run a clean slate
            shutil.rmtree(self.tmpdir / entry, ignore_errors=True)
        return run

    # -- brs --------------------------------------------------------------------------------
    def _brs_common(self, store: Path) -> list[str]:
        return [
            "--db", "localfs",
            "--backup-provider", "local",
            "--local-provider-backup-path", str(store),
            "--encryption-key-file", str(self.key_file),
        ]  # fmt: skip

    def brs_backup(self, run: Run, source: Path, store: Path) -> Run:
        argv = [
            str(self.brs),
            "backup",
            *self._brs_common(store),
            "--db-data-directory",
            str(source),
            "--compression-method",
            run.method,
        ]
        # The data-directory lock is a file next to the directory (brs.datalock).
        lock = source.parent / f".{source.name}.brs-lock"
        return self._measure(run, argv, [source, lock, store, *_RUNTIME_PATHS], store, own_only=True)

    def brs_restore(self, run: Run, store: Path, target: Path) -> Run:
        argv = [str(self.brs), "restore", "latest", *self._brs_common(store), "--db-data-directory", str(target)]
        return self._measure(run, argv, [target.parent, store, *_RUNTIME_PATHS], target, own_only=True)

    # -- shell ------------------------------------------------------------------------------
    def _openssl(self, decrypt: bool) -> str:
        key = _KEY.encode().hex()
        iv = "00112233445566778899aabbccddeeff"
        return f"openssl enc {'-d ' if decrypt else ''}-aes-256-ctr -K {key} -iv {iv}"

    def shell_backup(self, run: Run, source: Path, output: Path) -> Run:
        codec = SHELL_CODECS[run.method]
        stages = [f"tar cf - -C {source} .", *([codec[0]] if codec else []), self._openssl(False)]
        script = "set -o pipefail; " + " | ".join(stages) + f" > {output}"
        return self._measure(run, ["bash", "-c", script], [source, output.parent], output, own_only=False)

    def shell_restore(self, run: Run, archive: Path, target: Path) -> Run:
        codec = SHELL_CODECS[run.method]
        stages = [f"{self._openssl(True)} < {archive}", *([codec[1]] if codec else []), f"tar xf - -C {target}"]
        script = f"set -o pipefail; mkdir {target} && " + " | ".join(stages)
        return self._measure(run, ["bash", "-c", script], [archive.parent, target.parent], target, own_only=False)

    # -- rounds -----------------------------------------------------------------------------
    def round_robin(self, info: corpora.CorpusInfo, rounds: int, methods: list[str], with_shell: bool, verify: bool) -> None:
        """For each round and method: brs and shell backup, then brs and shell restore.

        The order of brs and shell alternates between rounds, so neither always runs first.
        """
        source = Path(info.path)
        for number in range(1, rounds + 1):
            for method in methods:
                scratch = self.workdir / f"run-{method}"
                shutil.rmtree(scratch, ignore_errors=True)
                store, restored_brs, restored_shell = scratch / "store", scratch / "restored-brs", scratch / "restored-shell"
                archive = scratch / f"shell.{method}.aes"
                scratch.mkdir()
                tools = ["brs", "shell"] if with_shell else ["brs"]
                if number % 2 == 0:
                    tools.reverse()
                for tool in tools:
                    run = Run(tool, method, "backup", info.kind, number)
                    if tool == "brs":
                        self._record(self.brs_backup(run, source, store), info)
                    else:
                        self._record(self.shell_backup(run, source, archive), info)
                for tool in tools:
                    run = Run(tool, method, "restore", info.kind, number)
                    target = restored_brs if tool == "brs" else restored_shell
                    self._record(
                        self.brs_restore(run, store, target) if tool == "brs" else self.shell_restore(run, archive, target), info
                    )
                    if verify and number == 1 and run.exit_code == 0:
                        run.error = _compare_trees(source, target)
                shutil.rmtree(scratch, ignore_errors=True)

    def _record(self, run: Run, info: corpora.CorpusInfo) -> None:
        self.runs.append(run)
        rate = info.bytes / run.seconds / 1e6 if run.seconds else 0.0
        status = "ok" if run.exit_code == 0 else f"FAILED ({run.exit_code}): {run.error[-300:]}"
        print(
            f"  r{run.round} {run.corpus:6} {run.method:7} {run.direction:7} {run.tool:5} {run.seconds:7.2f} s {rate:7.0f} MB/s "
            f"rss {run.peak_rss_mib:6.1f} MiB  cpu {run.cpu_seconds:5.2f} s  other {run.other_cpu_cores:4.2f} cores  "
            f"tmp {run.temp_disk_mib:6.1f} MiB  {status}"
            + (f"  (child process peak {run.children_rss_mib:.1f} MiB)" if run.children_rss_mib else ""),
            flush=True,
        )


def _tree_bytes(path: Path) -> int:
    """Apparent size of a file or of every file below a directory."""
    if path.is_file():
        return path.stat().st_size
    total = 0
    for root, _, names in os.walk(path):
        total += sum(os.lstat(os.path.join(root, name)).st_size for name in names)
    return total


def _compare_trees(expected: Path, actual: Path) -> str:
    """Empty when both trees have the same content, else the first differences (``diff -r``)."""
    result = subprocess.run(["diff", "-r", "-q", "--no-dereference", str(expected), str(actual)], capture_output=True, text=True)
    if result.returncode == 0:
        return ""
    print(f"  RESTORE DIFFERS from the source: {result.stdout[:500]}{result.stderr[:500]}", flush=True)
    return "restored tree differs: " + (result.stdout or result.stderr)[:1000]


# -- summary --------------------------------------------------------------------------------
def _median(runs: list[Run], attribute: str) -> float:
    values = [getattr(run, attribute) for run in runs]
    return statistics.median(values) if values else 0.0


def summarise(runs: list[Run], sizes: dict[str, int], methods: list[str], corpus: str) -> list[dict[str, Any]]:
    """One row per method and direction: medians of brs and of the shell analogue."""
    rows = []
    for method in methods:
        for direction in ("backup", "restore"):

            def pick(tool: str, method: str = method, direction: str = direction) -> list[Run]:
                return [
                    r
                    for r in runs
                    if (r.tool, r.method, r.direction, r.corpus, r.exit_code) == (tool, method, direction, corpus, 0)
                ]

            brs, shell = pick("brs"), pick("shell")
            if not brs:
                continue
            brs_mbs = sizes[corpus] / _median(brs, "seconds") / 1e6
            shell_mbs = sizes[corpus] / _median(shell, "seconds") / 1e6 if shell else 0.0
            brs_durable = sizes[corpus] / statistics.median(r.seconds + r.flush_seconds for r in brs) / 1e6
            shell_durable = sizes[corpus] / statistics.median(r.seconds + r.flush_seconds for r in shell) / 1e6 if shell else 0.0
            rows.append(
                {
                    "method": method,
                    "direction": direction,
                    "runs": len(brs),
                    "brs_mb_s": round(brs_mbs, 1),
                    "brs_mb_s_min": round(sizes[corpus] / max(r.seconds for r in brs) / 1e6, 1),
                    "brs_mb_s_max": round(sizes[corpus] / min(r.seconds for r in brs) / 1e6, 1),
                    "shell_mb_s": round(shell_mbs, 1),
                    "ratio": round(brs_mbs / shell_mbs, 2) if shell_mbs else None,
                    # Until the data is on disk: each run plus the sync after it (information only).
                    "brs_durable_mb_s": round(brs_durable, 1),
                    "shell_durable_mb_s": round(shell_durable, 1),
                    "durable_ratio": round(brs_durable / shell_durable, 2) if shell_durable else None,
                    "brs_peak_rss_mib": round(max(r.peak_rss_mib for r in brs), 1),
                    "brs_median_rss_mib": round(_median(brs, "peak_rss_mib"), 1),
                    "shell_peak_rss_mib": round(max((r.peak_rss_mib for r in shell), default=0.0), 1),
                    "brs_cpu_s": round(_median(brs, "cpu_seconds"), 2),
                    "shell_cpu_s": round(_median(shell, "cpu_seconds"), 2) if shell else None,
                    # CPU seconds per 10^9 bytes of the directory: shows multi-core use even on 2 cores.
                    "brs_cpu_s_per_gb": round(_median(brs, "cpu_seconds") / (sizes[corpus] / 1e9), 2),
                    "shell_cpu_s_per_gb": round(_median(shell, "cpu_seconds") / (sizes[corpus] / 1e9), 2) if shell else None,
                    # Other users of the file system only add noise, a real temporary copy shows
                    # up in every round: the least growth over the rounds is the robust figure.
                    "brs_temp_disk_mib": round(min(r.temp_disk_mib for r in brs), 1),
                    "brs_temp_disk_mib_max": round(max(r.temp_disk_mib for r in brs), 1),
                    "stored_bytes": int(_median(brs, "artefact_bytes")) if direction == "backup" else None,
                    "other_cpu_cores": round(_median(brs + shell, "other_cpu_cores"), 2),
                }
            )
    return rows


def print_table(rows: list[dict[str, Any]], raw_bytes: int) -> None:
    header = (
        f"{'method':7} {'direction':9} {'brs MB/s':>9} {'(min-max)':>12} {'shell MB/s':>10} {'brs/shell':>9} "
        f"{'brs RSS MiB':>11} {'shell RSS':>9} {'brs CPU/GB':>10} {'shell CPU/GB':>12} {'tmp disk MiB':>12} {'comp.':>6}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        ratio = f"{row['ratio']:.2f}x" if row["ratio"] is not None else "-"
        shrink = f"{raw_bytes / row['stored_bytes']:.2f}" if row["stored_bytes"] else ""
        spread = f"{row['brs_mb_s_min']:.0f}-{row['brs_mb_s_max']:.0f}"
        shell_cpu = f"{row['shell_cpu_s_per_gb']:.2f}" if row.get("shell_cpu_s_per_gb") is not None else "-"
        print(
            f"{row['method']:7} {row['direction']:9} {row['brs_mb_s']:9.0f} {spread:>12} {row['shell_mb_s']:10.0f} {ratio:>9} "
            f"{row['brs_peak_rss_mib']:11.1f} {row['shell_peak_rss_mib']:9.1f} {row.get('brs_cpu_s_per_gb', 0.0):10.2f} "
            f"{shell_cpu:>12} {row['brs_temp_disk_mib']:12.1f} {shrink:>6}"
        )


def print_durable(rows: list[dict[str, Any]]) -> None:
    """The same runs until their data is on disk (information, not a target): brs syncs before it
    exits, the shell's last writes are still in memory when its clock stops."""
    print("until on disk (each run plus the sync after it; information, not a target):")
    for row in rows:
        if row.get("durable_ratio") is not None:
            print(
                f"  {row['method']:7} {row['direction']:9} brs {row['brs_durable_mb_s']:5.0f} MB/s  "
                f"shell {row['shell_durable_mb_s']:5.0f} MB/s  {row['durable_ratio']:.2f}x"
            )


def acceptance(rows: list[dict[str, Any]], runs: list[Run], scaling: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The issue's targets, each with the measured figure and PASS/FAIL."""
    checks = []
    by_key = {(row["method"], row["direction"]): row for row in rows}
    for (method, direction), target in RATIO_TARGETS.items():
        row = by_key.get((method, direction))
        if row and row["ratio"] is not None:
            checks.append(
                {
                    "target": f"{direction} {method}+encryption >= {target:.1f}x the shell pipeline",
                    "measured": f"{row['ratio']:.2f}x ({row['brs_mb_s']:.0f} vs {row['shell_mb_s']:.0f} MB/s)",
                    "pass": row["ratio"] >= target,
                }
            )
    brs_runs = [run for run in runs if run.tool == "brs" and run.exit_code == 0]
    if brs_runs:
        worst = max(brs_runs, key=lambda run: run.peak_rss_mib)
        checks.append(
            {
                "target": f"peak RSS of brs < {RSS_TARGET_MIB:.0f} MiB (every method, both directions)",
                "measured": f"max {worst.peak_rss_mib:.1f} MiB ({worst.method} {worst.direction}, {worst.corpus})",
                "pass": worst.peak_rss_mib < RSS_TARGET_MIB,
            }
        )
        temp = max((row["brs_temp_disk_mib"] for row in rows), default=0.0)
        tmp_files = sorted({entry for run in brs_runs for entry in run.tmpdir_entries})
        unexpected = sorted({path for run in brs_runs for path in run.unexpected_files})
        transient = sorted({path for run in brs_runs for path in run.transient_entries})
        evidence = tmp_files[:3] + unexpected[:3] + transient[:3]
        checks.append(
            {
                "target": "no temporary copy on disk (free-space drop beyond the artefact, TMPDIR, files elsewhere)",
                "measured": f"{temp:.1f} MiB beyond the artefact (worst method, least of its rounds); "
                f"TMPDIR entries: {len(tmp_files)}; files opened outside source/destination: {len(unexpected)}; "
                f"transient files next to the artefact: {len(transient)}" + (f" {evidence}" if evidence else ""),
                "pass": temp <= TEMP_DISK_TOLERANCE_MIB and not tmp_files and not unexpected and not transient,
            }
        )
    if scaling:
        checks.append(
            {
                "target": f"peak RSS independent of data size (big - small <= {SCALING_TOLERANCE_MIB:.0f} MiB)",
                "measured": scaling["text"],
                "pass": scaling["pass"],
            }
        )
    failed = [run for run in runs if run.exit_code or run.error]
    checks.append(
        {
            "target": "every run succeeded and every verified restore matched the source",
            "measured": f"{len(failed)} failed",
            "pass": not failed,
        }
    )
    return checks


def memory_scaling(runs: list[Run], small: str, big: str, tool: str = "brs") -> dict[str, Any] | None:
    """Compare the peak RSS of ``tool``'s runs on the small and on the big corpus, per method and direction.

    Medians over the rounds: the allocator's occasional outliers do not depend on the data size
    (they appear on the small corpus too), the < 100 MiB target covers the worst single run.
    """
    pairs = []
    for method in sorted({run.method for run in runs if run.tool == tool}):
        for direction in ("backup", "restore"):
            peak = {}
            for corpus in (small, big):
                values = [
                    r.peak_rss_mib for r in runs if (r.tool, r.method, r.direction, r.corpus) == (tool, method, direction, corpus)
                ]
                if values:
                    peak[corpus] = statistics.median(values)
            if len(peak) == 2:
                pairs.append((method, direction, peak[small], peak[big]))
    if not pairs:
        return None
    worst = max(pairs, key=lambda pair: pair[3] - pair[2])
    text = "; ".join(f"{m} {d}: {s:.0f} -> {b:.0f}" for m, d, s, b in pairs)
    return {
        "pairs": [{"method": m, "direction": d, "small_mib": round(s, 1), "big_mib": round(b, 1)} for m, d, s, b in pairs],
        "text": f"MiB small -> big corpus: {text}",
        "pass": worst[3] - worst[2] <= SCALING_TOLERANCE_MIB,
    }


def machine() -> dict[str, Any]:
    def version(argv: list[str]) -> str:
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"

    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    return {
        "cpus": os.cpu_count(),
        "cpu_model": next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?"),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg": os.getloadavg(),
        "tools": {name: version(argv) for name, argv in {
            "tar": ["tar", "--version"], "gzip": ["gzip", "--version"], "lz4": ["lz4", "--version"],
            "zstd": ["zstd", "--version"], "openssl": ["openssl", "version"],
        }.items()},
    }  # fmt: skip


def corpus_arguments(
    doc: str, *, size_mib: int, small_mib: int, rounds: int, rounds_help: str, workdir_help: str
) -> argparse.ArgumentParser:
    """A parser with the options every corpus benchmark has (sizes, rounds, corpus, workdir, keep, strict)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=size_mib, help="size of the big corpus")
    parser.add_argument(
        "--small-mib", type=int, default=small_mib, help="size of the corpus for the memory-scaling check (0: skip)"
    )
    parser.add_argument("--rounds", type=int, default=rounds, help=rounds_help)
    parser.add_argument("--corpus", choices=corpora.KINDS, default="mixed")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(os.environ.get("BRS_BENCH_DIR", "/tmp/brs-bench")),
        help=workdir_help,
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated corpora for the next run")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = corpus_arguments(
        __doc__,
        size_mib=1024,
        small_mib=100,
        rounds=3,
        rounds_help="interleaved rounds (medians are reported)",
        workdir_help="scratch directory (corpus cache, artefacts)",
    )
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated compression methods")
    parser.add_argument("--quick", action="store_true", help="200 MiB corpus, one round: a fast check")
    parser.add_argument("--no-verify", action="store_true", help="skip the diff of the first round's restores against the source")
    parser.add_argument("--report", type=Path, help="only print the table and targets of a saved JSON result again")
    args = parser.parse_args(argv)
    if args.quick:
        args.size_mib, args.rounds = 200, 1
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in args.methods if m not in METHODS]
    if unknown:
        parser.error(f"unknown methods {unknown}; choose from {', '.join(METHODS)}")
    args.workdir = args.workdir.resolve()
    return args


def report(
    args: argparse.Namespace, runs: list[Run], big: corpora.CorpusInfo, small: corpora.CorpusInfo | None
) -> list[dict[str, Any]]:
    """Print the summary table and the acceptance targets; return the checks."""
    sizes = {big.kind: big.bytes, **({small.kind: small.bytes} if small else {})}
    rows = summarise(runs, sizes, args.methods, big.kind)
    scaling = memory_scaling(runs, small.kind, big.kind) if small else None
    checks = acceptance(rows, runs, scaling)
    print()
    print(f"brs vs shell, {corpora.describe(big)}; median of {args.rounds} round(s); MB = 10^6 bytes of the directory per second")
    print_table(rows, big.bytes)
    print()
    print_durable(rows)
    print()
    for check in checks:
        print(f"[{'PASS' if check['pass'] else 'FAIL'}] {check['target']}: {check['measured']}")
    return [{"rows": rows, "scaling": scaling, "checks": checks}]


def reprint(path: Path) -> int:
    """Recompute the summary of a saved result from its raw runs (e.g. after changing the report)."""
    saved = json.loads(path.read_text())
    args = argparse.Namespace(methods=saved["args"]["methods"], rounds=saved["args"]["rounds"])
    infos = [corpora.CorpusInfo(**info) for info in saved["corpora"]]
    runs = [Run(**run) for run in saved["runs"]]
    print(
        f"result of {saved['started']} .. {saved['finished']} ({saved['machine']['cpus']} CPUs, {saved['machine']['cpu_model']})"
    )
    report(args, runs, infos[0], infos[1] if len(infos) > 1 else None)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report:
        return reprint(args.report)
    bench = Bench(args)
    bench.setup()
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    big = corpora.ensure_corpus(args.workdir, args.corpus, args.size_mib)
    small = corpora.ensure_corpus(args.workdir, args.corpus, args.small_mib) if 0 < args.small_mib < args.size_mib else None
    print(corpora.describe(big))
    if small is not None:
        small.kind = f"{small.kind}-small"  # a distinct label keeps its runs apart from the big corpus's
        print(corpora.describe(small) + " (memory-scaling check)")
    print(f"{args.rounds} interleaved round(s), methods {', '.join(args.methods)}, encrypted (AES-256-GCM / openssl aes-256-ctr)")
    try:
        bench.round_robin(big, args.rounds, args.methods, with_shell=True, verify=not args.no_verify)
        if small is not None:
            bench.round_robin(small, args.rounds, args.methods, with_shell=False, verify=False)
    finally:
        for scratch in args.workdir.glob("run-*"):
            shutil.rmtree(scratch, ignore_errors=True)
        if not args.keep:
            for info in (big, small):
                if info is not None:
                    shutil.rmtree(info.path, ignore_errors=True)
                    Path(info.path + ".json").unlink(missing_ok=True)
    summary = report(args, bench.runs, big, small)[0]
    checks = summary["checks"]
    result = {
        "started": started,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": machine(),
        "corpora": [asdict(info) for info in (big, small) if info is not None],
        "summary": summary["rows"],
        "memory_scaling": summary["scaling"],
        "acceptance": checks,
        "runs": [asdict(run) for run in bench.runs],
    }
    results = Path(__file__).resolve().parent / "results"
    results.mkdir(exist_ok=True)
    path = results / f"pipeline-{big.kind}-{args.size_mib}m-{started.replace(':', '')}.json"
    path.write_text(json.dumps(result, indent=1))
    print(f"\nresults written to {path}")
    return 1 if args.strict and not all(check["pass"] for check in checks) else 0


if __name__ == "__main__":
    sys.exit(main())
