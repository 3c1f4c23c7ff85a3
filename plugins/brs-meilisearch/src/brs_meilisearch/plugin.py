"""The ``meilisearch`` database driver."""

from __future__ import annotations

from pathlib import Path

from brs.archive import ArchiveReader, ArchiveWriter
from brs.errors import ConfigError, DatabaseError
from brs.interfaces import Database, DataDirState
from brs.legacy import ROOT as LEGACY_ROOT
from brs.staging import clear_directory

from brs_meilisearch.api import MeiliApi
from brs_meilisearch.binary import binary_version, keep_copy, resolve_binary
from brs_meilisearch.importer import SCRATCH, import_dump
from brs_meilisearch.layout import DUMP_MEMBER, METADATA, check_data_dir
from brs_meilisearch.options import MeiliOptions, default_previous_binary
from brs_meilisearch.upgrade import upgrade_data_dir

__all__ = ["Meilisearch"]


class Meilisearch(Database[MeiliOptions]):
    """Backs up a running Meilisearch through its dumps API and restores by importing the dump.

    A backup holds the metadata member (``brs-meilisearch.json``: the server's version) and
    the dump file (``meilisearch.dump``). Dumps are Meilisearch's version-independent export
    format, so a backup restores into the same or a newer version. Restores and upgrades run
    the Meilisearch binary locally on loopback.
    """

    Options = MeiliOptions

    @property
    def previous_binary(self) -> Path | None:
        """Where the binary that wrote the data is kept (see ``--meilisearch-previous-binary``)."""
        return self.settings.previous_binary or default_previous_binary(self.context.data_dir)

    def _api(self) -> MeiliApi:
        return MeiliApi(self.settings.url, self.settings.api_key)

    # -- state -------------------------------------------------------------------------------
    def check(self, data_dir: Path) -> DataDirState:
        return check_data_dir(data_dir)

    def probe(self) -> bool:
        return self._api().healthy()

    def version(self) -> str | None:
        return self._api().version()

    # -- backup ------------------------------------------------------------------------------
    def dump(self, archive: ArchiveWriter) -> None:
        settings = self.settings
        if settings.dump_dir is None:
            raise ConfigError("meilisearch needs --meilisearch-dump-dir: the server's --dump-dir as mounted in the sidecar")
        api = self._api()
        server_version = api.version()  # fails early and clearly when unreachable or the key is wrong
        METADATA.write(archive, {"version": server_version})
        uid = api.create_dump(settings.timeout)
        dump = settings.dump_dir / f"{uid}.dump"
        try:
            if not dump.is_file():
                raise DatabaseError(
                    f"Meilisearch wrote dump {uid}, but {dump} does not exist: is --meilisearch-dump-dir "
                    "the directory the server writes dumps to (its --dump-dir, shared with the sidecar)?"
                )
            archive.add_path(dump, DUMP_MEMBER)
        finally:
            try:
                dump.unlink(missing_ok=True)
            except OSError as error:
                self.log.warning("could not remove the server's dump file %s: %s", dump, error.strerror or error)
        self._keep_binary(server_version)

    def _keep_binary(self, server_version: str) -> None:
        """Copy the binary that writes the data to where a later upgrade looks for it.

        Only a binary of the running server's version is copied: a sidecar image that is already
        newer than the server must not overwrite the copy of the version that wrote the data.
        A failure is logged, not raised: the backup itself is fine, and an upgrade that then
        lacks the binary fails loudly.
        """
        settings, previous = self.settings, self.previous_binary
        if previous is None:
            self.log.info("no data directory set: not keeping a Meilisearch binary for later upgrades")
            return
        try:
            binary = resolve_binary(settings.binary)
            version = binary_version(binary)
            if version.text != server_version:
                self.log.warning(
                    "not keeping %s for upgrades: it is Meilisearch %s, the server runs %s", binary, version.text, server_version
                )
                return
            keep_copy(binary, previous, self.log)
        except (DatabaseError, OSError) as error:
            self.log.warning("could not keep the Meilisearch binary for later upgrades at %s: %s", previous, error)

    # -- restore -----------------------------------------------------------------------------
    def restore(self, archive: ArchiveReader, target: Path) -> None:
        self._restore(archive, target, DUMP_MEMBER, with_metadata=True)

    def restore_legacy(self, archive: ArchiveReader, target: Path) -> None:
        # backup-restore-sidecar (up to its removal of Meilisearch) stored the dump as files/latest.dump.
        self._restore(archive, target, LEGACY_ROOT + "latest.dump", with_metadata=False)

    def _restore(self, archive: ArchiveReader, target: Path, member: str, *, with_metadata: bool) -> None:
        settings = self.settings
        binary = resolve_binary(settings.binary)
        scratch = target / SCRATCH
        dump = scratch / DUMP_MEMBER
        try:
            scratch.mkdir(exist_ok=True)
            # Backups of brs-meilisearch 0.1 have no metadata; a newer format is refused.
            metadata = METADATA.extract(archive, member, dump, engine="Meilisearch", with_metadata=with_metadata)
            if metadata is not None:
                self.log.info("restoring a dump of Meilisearch %s", metadata.get("version", "(version unknown)"))
        except BaseException:
            clear_directory(target)
            raise
        import_dump(binary, dump, target, timeout=settings.timeout, log=self.log)

    # -- upgrade -----------------------------------------------------------------------------
    def upgrade(self, data_dir: Path) -> None:
        settings = self.settings
        upgrade_data_dir(
            data_dir,
            binary=settings.binary,
            previous_binary=self.previous_binary,
            timeout=settings.timeout,
            keep_old=settings.keep_pre_upgrade_data,
            log=self.log,
        )
