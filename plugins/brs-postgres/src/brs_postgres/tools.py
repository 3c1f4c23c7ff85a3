"""Finding and running the PostgreSQL programs, as the right operating-system user."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from brs import processes
from brs.errors import DatabaseError

__all__ = ["Owner", "Toolset", "error_line", "parse_major"]


def parse_major(version: str) -> int:
    """Major version of ``PostgreSQL 16.14`` / ``PostgreSQL 15.20 (Debian ...)`` / ``16.14``."""
    match = re.search(r"(\d+)(?:\.(\d+))?", version)
    if match is None:
        raise DatabaseError(f"cannot parse PostgreSQL version {version.strip()!r}")
    major = int(match.group(1))
    # Before 10 the major version had two parts (9.6); brs does not support those.
    if major < 10:
        raise DatabaseError(f"PostgreSQL {version.strip()} is too old (brs-postgres needs 10 or newer)")
    return major


def error_line(output: str | bytes | None, limit: int = 300) -> str:
    """The most telling line of a tool's stderr, squashed to one line."""
    if isinstance(output, bytes):
        output = output.decode("utf-8", "replace")
    lines = [" ".join(line.split()) for line in (output or "").splitlines() if line.strip()]
    if not lines:
        return "no error output"
    for marker in ("FATAL:", "ERROR:", "error:", "PANIC:"):
        for line in lines:
            if marker in line:
                return line[:limit]
    return lines[-1][:limit]


@dataclass(frozen=True)
class Owner:
    """The account that owns a data directory and runs the server (PostgreSQL refuses root)."""

    uid: int
    gid: int
    name: str

    @classmethod
    def resolve(cls, path: Path | None, system_user: str) -> Owner:
        """The owner of ``path`` when it is not root, else ``system_user`` (when brs runs as root)."""
        if path is not None and path.exists():
            info = path.stat()
            if info.st_uid != 0:
                try:
                    name = pwd.getpwuid(info.st_uid).pw_name
                except KeyError:
                    name = str(info.st_uid)
                return cls(info.st_uid, info.st_gid, name)
        if os.geteuid() != 0:
            return cls(os.geteuid(), os.getegid(), pwd.getpwuid(os.geteuid()).pw_name)
        try:
            entry = pwd.getpwnam(system_user)
        except KeyError:
            raise DatabaseError(
                f"operating-system user {system_user!r} does not exist "
                "(PostgreSQL cannot run as root; set --postgres-system-user)"
            ) from None
        return cls(entry.pw_uid, entry.pw_gid, entry.pw_name)

    def process_kwargs(self) -> dict[str, Any]:
        """subprocess arguments that run a child as this account (only possible as root)."""
        if os.geteuid() == 0 and self.uid != 0:
            return {"user": self.uid, "group": self.gid, "extra_groups": []}
        return {}

    def chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            os.chown(path, self.uid, self.gid, follow_symlinks=False)

    def chown_tree(self, root: Path) -> None:
        """Give ``root`` and everything below it to this account."""
        if os.geteuid() != 0:
            return
        self.chown(root)
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                os.chown(os.path.join(dirpath, name), self.uid, self.gid, follow_symlinks=False)

    def private_dir(self, prefix: str) -> Path:
        """A fresh directory only this account can use (sockets, logs, work files)."""
        path = Path(tempfile.mkdtemp(prefix=prefix))
        self.chown(path)
        return path


class Toolset:
    """One set of PostgreSQL programs: a ``bindir``, or whatever ``PATH`` offers.

    :param bindir: where the programs are; ``None`` means PATH.
    :param library_path: extra shared-library directory for saved copies whose relative rpath
        no longer resolves (the PyPI builds find their libpq that way).
    """

    def __init__(self, bindir: Path | None, library_path: Path | None = None) -> None:
        self.bindir = bindir
        self.library_path = library_path
        self._version: str | None = None

    @classmethod
    def discover(cls, bindir: Path | None) -> Toolset:
        """The configured bindir, else ``pg_config --bindir`` of the pg_config on PATH, else PATH."""
        if bindir is not None:
            return cls(bindir)
        pg_config = shutil.which("pg_config")
        if pg_config is not None:
            try:
                found = processes.run(
                    [pg_config, "--bindir"], capture_output=True, text=True, timeout=30, check=True
                ).stdout.strip()
                if found and (Path(found, "postgres").exists() or Path(found, "pg_dump").exists()):
                    return cls(Path(found))
            except (OSError, subprocess.SubprocessError):
                pass
        return cls(None)

    def where(self) -> str:
        return str(self.bindir) if self.bindir is not None else "PATH"

    def has(self, tool: str) -> bool:
        try:
            self.path(tool)
        except DatabaseError:
            return False
        return True

    def path(self, tool: str) -> str:
        """Absolute path of ``tool``; a missing program is a one-line DatabaseError."""
        if self.bindir is not None:
            candidate = self.bindir / tool
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
            raise DatabaseError(f"{tool} not found in {self.bindir} (set --postgres-bindir to the PostgreSQL programs)")
        found = shutil.which(tool)
        if found is None:
            raise DatabaseError(
                f"{tool} not found on PATH (install the PostgreSQL client/server programs or set --postgres-bindir)"
            )
        return found

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment for a child: ours without libpq variables, plus ``extra`` (``BRS_*`` go in :mod:`brs.processes`)."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        if self.library_path is not None:
            env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (str(self.library_path), env.get("LD_LIBRARY_PATH", "")) if p)
        env.update(extra or {})
        return env

    def command(self, tool: str, args: Sequence[str]) -> list[str]:
        return [self.path(tool), *args]

    def run(
        self,
        tool: str,
        args: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        owner: Owner | None = None,
        cwd: Path | None = None,
        what: str | None = None,
        timeout: float | None = None,
        pass_fds: Sequence[int] = (),
    ) -> str:
        """Run ``tool`` to completion; returns stdout, raises a one-line DatabaseError on failure."""
        command = self.command(tool, args)
        try:
            result = processes.run(
                command,
                env=self.env(env),
                cwd=str(cwd or tempfile.gettempdir()),
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
                pass_fds=pass_fds,
                **(owner.process_kwargs() if owner else {}),
            )
        except subprocess.TimeoutExpired:
            raise DatabaseError(f"{what or tool} did not finish within {timeout:.0f}s") from None
        except OSError as error:
            raise DatabaseError(f"cannot run {command[0]}: {error.strerror or error}") from None
        if result.returncode != 0:
            raise DatabaseError(f"{what or tool} failed (exit {result.returncode}): {error_line(result.stderr or result.stdout)}")
        return str(result.stdout)

    def popen(
        self,
        tool: str,
        args: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        owner: Owner | None = None,
        cwd: Path | None = None,
        stdin: int | IO[bytes] | None = subprocess.DEVNULL,
        stdout: int | IO[bytes] | None = subprocess.PIPE,
        stderr: int | IO[bytes] | None = None,
        pass_fds: Sequence[int] = (),
    ) -> subprocess.Popen[bytes]:
        """Start ``tool`` with binary pipes (the caller streams and waits)."""
        command = self.command(tool, args)
        try:
            return processes.popen(
                command,
                env=self.env(env),
                cwd=str(cwd or tempfile.gettempdir()),
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                pass_fds=pass_fds,
                **(owner.process_kwargs() if owner else {}),
            )
        except OSError as error:
            raise DatabaseError(f"cannot run {command[0]}: {error.strerror or error}") from None

    # -- versions --------------------------------------------------------------------------
    def pg_config(self, flag: str) -> str:
        return self.run("pg_config", [flag], what="pg_config").strip()

    def version(self) -> str:
        """``PostgreSQL 16.14`` as ``pg_config --version`` says.

        Images without pg_config (client-only ones) are asked through the first program they
        have; ``postgres (PostgreSQL) 16.14`` becomes ``PostgreSQL 16.14``.
        """
        if self._version is not None:
            return self._version
        if self.has("pg_config"):
            version = self.pg_config("--version")
        else:
            program = next((tool for tool in ("postgres", "pg_dump", "psql", "pg_basebackup") if self.has(tool)), "postgres")
            text = self.run(program, ["--version"], what=f"{program} --version").strip()
            version = "PostgreSQL " + text.split(")", 1)[-1].strip()
        self._version = version
        return version

    def major(self) -> int:
        return parse_major(self.version().split(" ", 1)[-1])

    def is_debian_build(self) -> bool:
        return "debian" in self.version().lower()
