"""Child processes: the one place that starts them, with a clean environment.

Every program brs starts (``pg_basebackup``, a temporary server, ``brs wait``'s database, a
pre-exec command...) gets :func:`child_env`: brs's own ``BRS_*`` variables (the encryption key,
API tokens, passwords) never reach a child. Commands are logged through :func:`redact`, which
hides secret values after ``$VAR`` expansion. A temporary server whose brs process was killed
is found by its working directory and stopped at the next start (:func:`stop_processes_under`).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "child_env",
    "free_port",
    "popen",
    "redact",
    "run",
    "stop_process",
    "stop_processes_under",
]

log = logging.getLogger("brs.processes")
#: Variables of brs itself: configuration and secrets a child has no business reading.
_OWN_PREFIX = "BRS_"
#: Parts of a variable or flag name that mark its value as secret.
SECRET_WORDS = ("KEY", "PASSWORD", "PASSWD", "PASS", "SECRET", "TOKEN", "CREDENTIAL", "CONNECTION_STRING", "AUTH")
_PR_SET_PDEATHSIG = 1
_REDACTED = "***"


def child_env(extra: Mapping[str, str] | None = None, *, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a child: ``base`` (default: ours) without any ``BRS_*`` variable, plus ``extra``."""
    source = os.environ if base is None else base
    env = {key: value for key, value in source.items() if not key.startswith(_OWN_PREFIX)}
    env.update(extra or {})
    return env


def _is_secret_name(name: str) -> bool:
    upper = name.upper().lstrip("-").replace("-", "_")
    return any(word in upper for word in SECRET_WORDS)


def _secret_values() -> list[str]:
    """Values of our variables whose names look secret (longest first, for substring replacement)."""
    values = {value for name, value in os.environ.items() if _is_secret_name(name) and len(value) >= 4}
    return sorted(values, key=len, reverse=True)


def redact(argv: Sequence[str]) -> list[str]:
    """``argv`` fit for a log line: values of secret variables and of secret-looking flags are ``***``.

    Runs after ``$VAR`` expansion, so ``--requirepass $REDIS_PASSWORD`` is caught by the value
    (the variable's name looks secret) and by the flag (``--requirepass`` names a password).
    """
    secrets = _secret_values()
    shown: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            shown.append(_REDACTED)
            hide_next = False
            continue
        for value in secrets:
            arg = arg.replace(value, _REDACTED)
        if arg.startswith("-") and _is_secret_name(arg.partition("=")[0]) and not arg.partition("=")[0].endswith("file"):
            name, sep, _value = arg.partition("=")
            if sep:
                arg = f"{name}={_REDACTED}"
            else:
                hide_next = True
        shown.append(arg)
    return shown


@functools.cache
def _prctl() -> Any:
    """libc's ``prctl``, looked up in the parent: the child between fork and exec must not load
    anything (in a process with threads, the loader's or malloc's lock may be held by another
    thread at fork time). None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def popen(
    argv: Sequence[str], *, env: Mapping[str, str] | None = None, die_with_parent: int | None = None, **kwargs: Any
) -> subprocess.Popen[Any]:
    """``subprocess.Popen`` in the environment ``env`` (default: ours), always without ``BRS_*`` variables.

    ``die_with_parent``: the signal the child gets when brs dies (a database under ``brs wait``
    gets SIGTERM, a temporary server SIGKILL), so that no child outlives a killed brs.
    """
    prctl = _prctl() if die_with_parent is not None else None
    if prctl is not None:
        # Runs in the child after fork (and after any user switch, which would clear it): one
        # foreign call, nothing else. Linux ties the setting to the thread that started the
        # child, so callers start long-lived children from a thread that outlives them.
        kwargs["preexec_fn"] = functools.partial(prctl, _PR_SET_PDEATHSIG, int(die_with_parent or 0))
    return subprocess.Popen(list(argv), env=child_env(base=env), **kwargs)


def run(argv: Sequence[str], *, env: Mapping[str, str] | None = None, **kwargs: Any) -> subprocess.CompletedProcess[Any]:
    """``subprocess.run`` in the environment ``env`` (default: ours), always without ``BRS_*`` variables."""
    return subprocess.run(list(argv), env=child_env(base=env), **kwargs)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago.

    Another process may take it before the caller binds it, so callers that start a server on
    it retry with a new port when the server reports the address in use.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(
    process: subprocess.Popen[Any],
    timeout: float,
    *,
    log: logging.Logger | None = None,
    what: str = "process",
    kill_timeout: float | None = None,
) -> bool:
    """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL; True when it ended on SIGTERM.

    A process that has already exited counts as stopped on SIGTERM. When it has to be killed,
    ``log`` (if given) gets a warning naming ``what``. ``kill_timeout`` bounds the wait after
    SIGKILL (``None``: wait until it is gone).
    """
    if process.poll() is not None:
        return True
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
        return True
    except subprocess.TimeoutExpired:
        if log is not None:
            log.warning("%s ignored SIGTERM for %.0fs; killing it", what, timeout)
        process.kill()
        process.wait(timeout=kill_timeout)
        return False


def _processes_under(root: Path) -> list[int]:
    """Pids whose working directory is ``root`` or below it (servers chdir into their data directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        if cwd == root or root in cwd.parents:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def stop_processes_under(root: Path, timeout: float = 10.0) -> list[int]:
    """Stop what still runs inside ``root`` (a temporary server of a killed restore): SIGTERM, then SIGKILL.

    Only for brs's own staging directories: nothing but brs's temporary servers has a reason
    to work there. Returns the pids that were found.
    """
    root = root.resolve()
    pids = _processes_under(root) if Path("/proc/self/cwd").exists() else []
    for pid in pids:
        log.warning("stopping process %d left running in %s by an interrupted restore", pid, root)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in pids:
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    return pids
