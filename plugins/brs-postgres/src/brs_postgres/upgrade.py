"""Major-version upgrade of a stopped data directory with ``pg_upgrade``.

Order of work, each step failing loudly (DatabaseError) rather than skipping:

1. Compare ``PG_VERSION`` with the programs' major; equal means nothing to do, older programs
   than data is an error. The old programs must have been saved to ``pg-bin-v<old>`` (see
   :mod:`brs_postgres.binaries`) by an earlier backup or start with the old image.
   When the old cluster's config preloads TimescaleDB, the old and the new programs must have the
   same TimescaleDB version (:mod:`brs_postgres.timescale`); a mismatch stops here, before
   anything was changed.
2. Safety backup: start the old cluster with the old programs on a private socket, with its own
   ``shared_preload_libraries`` (TimescaleDB cannot dump compressed chunks without it), and write
   a ``pg_dumpall`` of it to ``<store>/pg-upgrade-v<old>-to-v<new>-<time>.sql.gz``. The sidecar's
   hook cannot run a brs backup itself, and a same-version logical dump restores into the old
   *and* the new version. While the server runs, facts for ``initdb`` are read.
3. ``initdb`` a sibling directory with the same superuser, encoding, locale, checksum setting
   and WAL segment size, then ``pg_upgrade`` (``--link`` by default) as the data owner.
4. Carry the config files over, start the new cluster, run ``update_extensions.sql`` when
   pg_upgrade wrote one, update TimescaleDB, ``vacuumdb --all --analyze-in-stages``, stop it.
5. Only now swap: the old directory is renamed aside, the new one renamed into place, and the
   old one removed. Until the new cluster has started, the old one is intact (in link mode
   pg_upgrade renames ``global/pg_control``; a failure renames it back).
"""

from __future__ import annotations

import gzip
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from brs import processes
from brs.errors import DatabaseError

from brs_postgres.binaries import SavedBinaries, binaries_dir, load_saved, save_binaries
from brs_postgres.dumpall import initdb_args
from brs_postgres.options import PostgresOptions
from brs_postgres.facts import ServerFacts
from brs_postgres.probe import CONFIG_FILES, connect, data_dir_major, update_timescaledb
from brs_postgres.server import TempServer, write_trust_hba
from brs_postgres.timescale import EXTENSION, check_upgrade, preload_libraries
from brs_postgres.tools import Owner, Toolset, error_line

__all__ = ["upgrade"]

log = logging.getLogger("brs.database.postgres")

#: Removes Debian's per-column ``pg_attver`` option that upstream pg_dump (in pg_upgrade) cannot restore.
_STRIP_ATTVER = """
UPDATE pg_catalog.pg_attribute
   SET attoptions = nullif(array(SELECT o FROM unnest(attoptions) o WHERE o NOT LIKE 'pg_attver=%'), '{}')
 WHERE attrelid >= 16384 AND attoptions IS NOT NULL
   AND EXISTS (SELECT 1 FROM unnest(attoptions) o WHERE o LIKE 'pg_attver=%')
"""


def upgrade(data_dir: Path, settings: PostgresOptions, tools: Toolset, store: Path) -> bool:
    """Upgrade ``data_dir`` to ``tools``' major version; returns True when it did."""
    old_major = data_dir_major(data_dir)
    if old_major is None:
        log.info("%s has no PG_VERSION: no upgrade needed", data_dir)
        return False
    new_major = tools.major()
    if old_major == new_major:
        _keep_programs(tools, store)
        return False
    if old_major > new_major:
        raise DatabaseError(f"the data in {data_dir} is PostgreSQL {old_major}, newer than the programs ({tools.version()})")
    saved = _old_binaries(store, old_major)
    for tool in ("initdb", "pg_upgrade", "pg_ctl", "postgres", "vacuumdb", "psql"):
        tools.path(tool)
    for tool in ("pg_ctl", "postgres", "pg_dumpall"):
        saved.tools.path(tool)
    if os.path.ismount(data_dir):
        raise DatabaseError(f"{data_dir} is a mount point; an upgrade needs the data directory in a folder of the volume")
    owner = Owner.resolve(data_dir, settings.system_user)
    _refuse_running(saved.tools, data_dir, owner)
    # The old cluster's own config decides: the new programs having the library proves nothing.
    timescale = EXTENSION in preload_libraries(saved.tools, data_dir, owner)
    if timescale:
        version = check_upgrade(saved.tools, tools, old_major, new_major)
        log.info("the cluster preloads TimescaleDB %s, installed for both PostgreSQL %s and %s", version, old_major, new_major)
    _keep_programs(tools, store)

    started = time.monotonic()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    log.info("upgrading %s from PostgreSQL %s to %s", data_dir, old_major, tools.version())
    facts, segsize, safety = _safety_dump(data_dir, settings, tools, saved, owner, store, f"v{old_major}-to-v{new_major}-{stamp}")
    log.info("safety backup of the old cluster written to %s", safety)
    _prune_safety_dumps(store, f"v{old_major}-to-v{new_major}")

    new_dir = data_dir.parent / f".{data_dir.name}.brs-upgrade-v{new_major}"
    shutil.rmtree(new_dir, ignore_errors=True)
    new_dir.mkdir(mode=0o700)
    owner.chown(new_dir)
    args = ["-D", str(new_dir), *initdb_args(facts, new_major)]
    if segsize != 16:
        args.append(f"--wal-segsize={segsize}")
    tools.run("initdb", args, owner=owner, what=f"initdb of the new cluster in {new_dir}")
    work = owner.private_dir("brs-pgupgrade-")
    try:
        _pg_upgrade(data_dir, new_dir, settings, tools, saved, owner, facts, work, timescale)
        try:
            _carry_config(data_dir, new_dir, owner, new_major)
            server = _start_new(new_dir, tools, owner, old_major, new_major, timescale)
        except BaseException:
            _undo_link_rename(data_dir)  # the new cluster never ran: the old one is still whole
            raise
        _finish(server, new_dir, settings, tools, facts, work, timescale)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    aside = data_dir.parent / f".{data_dir.name}.brs-pre-upgrade-v{old_major}-{stamp}"
    try:
        os.rename(data_dir, aside)
        os.rename(new_dir, data_dir)
    except OSError as error:
        raise DatabaseError(f"cannot move the upgraded cluster {new_dir} into {data_dir}: {error.strerror or error}") from None
    shutil.rmtree(aside, ignore_errors=True)
    log.info("upgraded %s to PostgreSQL %s in %.1fs", data_dir, new_major, time.monotonic() - started)
    return True


def _keep_programs(tools: Toolset, store: Path) -> None:
    """Save the current programs for the next upgrade; a failure must not stop the database."""
    try:
        save_binaries(tools, store)
    except DatabaseError as error:
        log.warning("could not save the PostgreSQL programs for a later upgrade: %s", error)


def _old_binaries(store: Path, old_major: int) -> SavedBinaries:
    saved = load_saved(store, old_major)
    if saved is None:
        raise DatabaseError(
            f"no saved PostgreSQL {old_major} programs in {binaries_dir(store, old_major)}: run one backup or start "
            f"with the PostgreSQL {old_major} image first, or set --postgres-binaries-store"
        )
    if saved.tools.major() != old_major:
        raise DatabaseError(f"{saved.root} holds {saved.tools.version()}, not PostgreSQL {old_major}")
    return saved


def _refuse_running(old: Toolset, data_dir: Path, owner: Owner) -> None:
    if not (data_dir / "postmaster.pid").exists():
        return
    try:
        old.run("pg_ctl", ["status", "-D", str(data_dir)], owner=owner)
    except DatabaseError:
        return  # a stale pid file: pg_ctl found no server
    raise DatabaseError(f"a PostgreSQL server is running on {data_dir}; stop it before the upgrade")


def _connect_any(server: TempServer, settings: PostgresOptions, owner: Owner) -> tuple[psycopg.Connection[Any], str]:
    """Connect to a trust-only temporary server as some existing role; returns it and that role."""
    last: DatabaseError | None = None
    for user in dict.fromkeys([settings.user, owner.name, "postgres"]):
        try:
            return connect(settings, conninfo=server.conninfo(user)), user
        except DatabaseError as error:
            last = error
    assert last is not None
    raise last


def _safety_dump(
    data_dir: Path,
    settings: PostgresOptions,
    tools: Toolset,
    saved: SavedBinaries,
    owner: Owner,
    store: Path,
    label: str,
) -> tuple[ServerFacts, int, Path]:
    """Start the old cluster (with its own preload libraries), read its facts, strip pg_attver if needed, dump it."""
    with TempServer(saved.tools, data_dir, owner) as server:
        conn, _user = _connect_any(server, settings, owner)
        with conn:
            row = conn.execute(
                "SELECT r.rolname, pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, current_setting('data_checksums'),"
                " (SELECT setting::bigint FROM pg_settings WHERE name = 'wal_segment_size'),"
                " current_setting('server_version'), current_setting('server_version_num')::int"
                " FROM pg_roles r, pg_database d WHERE r.oid = 10 AND d.datname = 'template0'"
            ).fetchone()
            databases = [str(r[0]) for r in conn.execute("SELECT datname FROM pg_database WHERE datallowconn").fetchall()]
        assert row is not None
        facts = ServerFacts(
            str(row[6]).split(" ")[0], int(row[7]), str(row[0]), str(row[1]), str(row[2]), str(row[3]), row[4] == "on", {}
        )
        # wal_segment_size is reported in bytes since PostgreSQL 11 (in 8 kB blocks before).
        segsize = int(row[5]) // (1 << 20) if int(row[5]) >= 1 << 20 else int(row[5]) * 8192 // (1 << 20)
        if settings.strip_attver == "always" or (settings.strip_attver == "auto" and not tools.is_debian_build()):
            _strip_attver(server, settings, facts.superuser, databases)
        target = store / f"pg-upgrade-{label}.sql.gz"
        _dumpall_to_file(saved.tools, server, facts.superuser, target)
    return facts, segsize, target


def _prune_safety_dumps(store: Path, pair: str, keep: int = 3) -> None:
    """Failed attempts that are retried on every start must not fill the volume with dumps."""
    dumps = sorted(store.glob(f"pg-upgrade-{pair}-*.sql.gz"), reverse=True)  # names sort by time
    for old in dumps[keep:]:
        old.unlink(missing_ok=True)


def _strip_attver(server: TempServer, settings: PostgresOptions, superuser: str, databases: list[str]) -> None:
    for name in databases:
        with connect(settings, conninfo=server.conninfo(superuser, name)) as conn:
            cursor = conn.execute(_STRIP_ATTVER)
            if cursor.rowcount:
                log.info("removed Debian's pg_attver option from %d columns in database %s", cursor.rowcount, name)


def _dumpall_to_file(old: Toolset, server: TempServer, superuser: str, target: Path) -> None:
    partial = target.with_name(target.name + ".partial")
    with tempfile.TemporaryFile() as errors:
        process = old.popen("pg_dumpall", ["--no-password"], env=server.client_env(superuser), stderr=errors)
        assert process.stdout is not None
        try:
            # Created 0600 from the start: the dump holds the roles' password hashes.
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with open(descriptor, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) as out:
                while piece := process.stdout.read(1 << 20):
                    out.write(piece)
        except OSError as error:
            process.kill()
            process.wait()
            partial.unlink(missing_ok=True)
            raise DatabaseError(f"cannot write the safety backup {target}: {error.strerror or error}") from None
        code = process.wait()
        if code != 0:
            partial.unlink(missing_ok=True)
            errors.seek(0)
            raise DatabaseError(f"safety pg_dumpall before the upgrade failed (exit {code}): {error_line(errors.read())}")
    os.rename(partial, target)


def _pg_upgrade(
    data_dir: Path,
    new_dir: Path,
    settings: PostgresOptions,
    tools: Toolset,
    saved: SavedBinaries,
    owner: Owner,
    facts: ServerFacts,
    work: Path,
    timescale: bool,
) -> None:
    hba = write_trust_hba(work, owner)
    # The old cluster keeps its own preload list (TimescaleDB included); the new one still has
    # initdb's config, so TimescaleDB is preloaded by option, in restoring mode.
    old_options = f"-c hba_file={hba}"
    new_options = f"-c hba_file={hba}" + (
        " -c timescaledb.restoring=on -c shared_preload_libraries=timescaledb" if timescale else ""
    )
    args = [
        "--old-bindir", str(Path(saved.tools.path("postgres")).parent),
        "--new-bindir", str(Path(tools.path("postgres")).parent),
        "--old-datadir", str(data_dir),
        "--new-datadir", str(new_dir),
        "--username", facts.superuser,
        "--socketdir", str(work),
        "--old-options", old_options,
        "--new-options", new_options,
        f"--{settings.upgrade_mode}",
    ]  # fmt: skip
    env = {}
    if saved.tools.library_path is not None:
        # The old programs' bundled libpq; names carry a build hash, so the new ones are unaffected.
        env["LD_LIBRARY_PATH"] = os.pathsep.join(
            p for p in (str(saved.tools.library_path), os.environ.get("LD_LIBRARY_PATH", "")) if p
        )
    command = tools.command("pg_upgrade", args)
    result = processes.run(
        command,
        env=tools.env(env),
        cwd=str(work),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        **owner.process_kwargs(),
    )
    if result.returncode != 0:
        _undo_link_rename(data_dir)
        reason = _upgrade_failure(result.stdout + "\n" + result.stderr, work)
        raise DatabaseError(
            f"pg_upgrade of {data_dir} from PostgreSQL {facts.major} to {tools.major()} failed: {reason} "
            f"(old cluster unchanged; logs in {new_dir / 'pg_upgrade_output.d'})"
        )


def _upgrade_failure(output: str, work: Path) -> str:
    """The cause of a pg_upgrade failure: the ERROR line of the log it points to, if any."""
    pointer = re.search(r'Consult the last few lines of\s+"([^"]+)"', output)
    if pointer is not None:
        log_file = Path(pointer.group(1))
        log_file = log_file if log_file.is_absolute() else work / log_file
        try:
            tail = log_file.read_text(errors="replace")[-20000:]
        except OSError:
            tail = ""
        if any(marker in tail for marker in ("ERROR:", "FATAL:", "error:")):
            return error_line(tail)
    return error_line(output)


def _undo_link_rename(data_dir: Path) -> None:
    """In link mode pg_upgrade renames the old pg_control so the old cluster cannot start; undo it."""
    renamed, original = data_dir / "global" / "pg_control.old", data_dir / "global" / "pg_control"
    if renamed.exists() and not original.exists():
        os.rename(renamed, original)


def _carry_config(data_dir: Path, new_dir: Path, owner: Owner, new_major: int) -> None:
    """Copy the old config files in; initdb's versions stay as ``<name>.initdb-v<new>``."""
    for name in CONFIG_FILES:
        old, new = data_dir / name, new_dir / name
        if not old.exists():
            continue
        if new.exists():
            os.rename(new, new_dir / f"{name}.initdb-v{new_major}")
        shutil.copy2(old, new)
        owner.chown(new)


def _start_new(new_dir: Path, tools: Toolset, owner: Owner, old_major: int, new_major: int, timescale: bool) -> TempServer:
    """Start the new cluster; if the old settings stop it, fall back to initdb's and keep the old ones."""
    options = ("timescaledb.restoring=off",) if timescale else ()
    server = TempServer(tools, new_dir, owner, options)
    try:
        server.start()
        return server
    except DatabaseError as error:
        fallback = False
        for name in ("postgresql.conf", "postgresql.auto.conf"):
            initdb_copy = new_dir / f"{name}.initdb-v{new_major}"
            if initdb_copy.exists():
                os.rename(new_dir / name, new_dir / f"{name}.from-v{old_major}")
                os.rename(initdb_copy, new_dir / name)
                fallback = True
        if not fallback:
            raise
        log.warning(
            "the upgraded cluster does not start with the old settings (%s); using initdb's, old ones kept as *.from-v%s",
            error,
            old_major,
        )
    server = TempServer(tools, new_dir, owner, options)
    server.start()
    return server


def _finish(
    server: TempServer, new_dir: Path, settings: PostgresOptions, tools: Toolset, facts: ServerFacts, work: Path, timescale: bool
) -> None:
    """Post-upgrade work on the running new cluster, then a clean stop."""
    try:
        env = server.client_env(facts.superuser)
        script = work / "update_extensions.sql"  # written by pg_upgrade into its working directory
        if script.exists():
            tools.run(
                "psql",
                ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(script)],
                env=env,
                what="update_extensions.sql after pg_upgrade",
            )
        if timescale:
            update_timescaledb(server.conninfo(facts.superuser), settings)
        # pg_upgrade does not carry optimizer statistics over; without them queries plan badly.
        tools.run("vacuumdb", ["--all", "--analyze-in-stages"], env=env, what=f"vacuumdb --analyze-in-stages on {new_dir}")
    except BaseException:
        server.kill()
        raise
    server.stop()
