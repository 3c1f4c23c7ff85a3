"""Streaming a tool's output into a backup and a backup's stream into a tool."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import BinaryIO

from brs.archive import ArchiveWriter
from brs.errors import BrsError, DatabaseError

from brs_postgres.passfile import Client
from brs_postgres.tools import Owner, Toolset, error_line

__all__ = ["add_tool_output", "feed_tool", "read_chunks"]

_CHUNK = 1 << 20


def add_tool_output(
    archive: ArchiveWriter,
    arcname: str,
    tools: Toolset,
    tool: str,
    args: Sequence[str],
    client: Client,
    what: str,
    first: Callable[[], None] | None = None,
) -> int:
    """Add ``tool``'s stdout to ``archive`` as it is produced; a non-zero exit raises. ``client``
    says how the tool reaches the server (:meth:`PostgresOptions.client`).

    ``first`` runs once the tool has started and before its output is read (the tool waits on
    its full pipe meanwhile); when it raises, the tool is killed. stderr goes to a small
    temporary file rather than a pipe, so that a chatty tool can never block on a full stderr
    pipe while we read stdout.
    """
    with tempfile.TemporaryFile() as errors:
        process = tools.popen(tool, args, env=client.env, pass_fds=client.pass_fds, stderr=errors)
        assert process.stdout is not None
        try:
            if first is not None:
                first()
            size = archive.add_stream(arcname, process.stdout)  # type: ignore[arg-type]
        except BaseException:
            process.kill()
            process.wait()
            raise
        finally:
            process.stdout.close()
        code = process.wait()
        errors.seek(0)
        if code != 0:
            raise DatabaseError(f"{what} failed (exit {code}): {error_line(errors.read())}")
    return size


def feed_tool(
    chunks: Iterator[bytes],
    tools: Toolset,
    tool: str,
    args: Sequence[str],
    env: Mapping[str, str],
    what: str,
    owner: Owner | None = None,
) -> None:
    """Write ``chunks`` to ``tool``'s stdin; raise with its error if it exits non-zero."""
    with tempfile.TemporaryFile() as errors:
        process = tools.popen(tool, args, env=env, owner=owner, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors)
        assert process.stdin is not None
        broken = False
        try:
            for chunk in chunks:
                try:
                    process.stdin.write(chunk)
                except BrokenPipeError:
                    broken = True  # the tool stopped early; its exit status says why
                    break
        except BaseException:
            process.kill()
            process.wait()
            raise
        finally:
            try:
                process.stdin.close()
            except BrokenPipeError:
                broken = True
        code = process.wait()
        errors.seek(0)
        if code != 0 or broken:
            raise DatabaseError(f"{what} failed (exit {code}): {error_line(errors.read())}")


def read_chunks(source: BinaryIO) -> Iterator[bytes]:
    """``source`` in pieces of about 1 MiB, turning read errors of the backup into BrsErrors."""
    while True:
        try:
            piece = source.read(_CHUNK)
        except BrsError:
            raise
        except (OSError, EOFError) as error:
            raise DatabaseError(f"cannot read the backup stream: {error}") from None
        if not piece:
            return
        yield piece
