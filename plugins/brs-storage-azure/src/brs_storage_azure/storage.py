"""``--backup-provider azure``: backups as block blobs in an Azure Blob Storage container."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, UTC
from typing import TYPE_CHECKING, Any, BinaryIO

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobPrefix
from brs.errors import BackupNotFound, StorageError
from brs.interfaces import Storage, StoredObject
from brs.kit.errors import storage_error
from brs.kit.objects import ObjectKeys
from brs.streams import TranslatingReader

from brs_storage_azure.blocks import BlockUpload
from brs_storage_azure.client import make_service
from brs_storage_azure.errors import AZURE_ERRORS, describe
from brs_storage_azure.options import AzureOptions

if TYPE_CHECKING:
    from azure.storage.blob import BlobServiceClient, ContainerClient
    from brs.interfaces import PluginContext

__all__ = ["AzureStorage"]


class AzureStorage(Storage[AzureOptions]):
    """Blobs ``<prefix>/<name>`` in ``--azure-container``.

    Uploads stage blocks from the stream with bounded memory and commit the block list only
    after the stream ended, so a failed or killed upload never shows up as a blob.
    """

    Options = AzureOptions

    def __init__(self, context: PluginContext[AzureOptions]) -> None:
        super().__init__(context)
        self.prefix = context.object_prefix.strip("/")
        self.keys = ObjectKeys.below(self.prefix)
        self._service: BlobServiceClient | None = None

    # -- helpers ---------------------------------------------------------------------------
    @property
    def container(self) -> ContainerClient:
        """The container client, created on first use."""
        if self._service is None:
            self._service = make_service(self.settings)
        return self._service.get_container_client(self.settings.container)

    @property
    def where(self) -> str:
        """``<account endpoint>/<container>/<prefix>/``, for messages (never with a SAS)."""
        return f"{self.settings.account.rstrip('/')}/{self.settings.container}/{self.keys.folder}"

    def _error(self, action: str, error: BaseException) -> StorageError:
        secrets = (self.settings.connection_string, self.settings.account_url)
        return storage_error(action, self.where, describe(error), secrets=secrets)

    def _probe(self) -> None:
        pages = self.container.list_blobs(name_starts_with=self.keys.folder, results_per_page=1).by_page()
        next(pages, None)

    # -- the storage contract -----------------------------------------------------------------------------
    def ensure(self) -> None:
        try:
            self._probe()
            return
        except ResourceNotFoundError as error:
            missing: BaseException = error
        except AZURE_ERRORS as error:
            raise self._error("open the container", error) from error
        if not self.settings.create_container:
            raise StorageError(
                f"container {self.settings.container} does not exist ({self.where}) and --no-azure-create-container is set"
            ) from missing
        try:
            self.container.create_container()
            self.log.info("created container %s", self.settings.container)
        except ResourceExistsError:
            pass  # created concurrently
        except AZURE_ERRORS as error:
            raise self._error("create the missing container", error) from error
        try:
            self._probe()
        except AZURE_ERRORS as error:
            raise self._error("open the container", error) from error

    def upload(self, name: str, source: BinaryIO) -> int:
        blob = self.container.get_blob_client(self.keys.key(name))
        upload = BlockUpload(blob, source, self.settings.block_size, concurrency=self.settings.upload_concurrency)
        try:
            return upload.run()
        except AZURE_ERRORS as error:
            raise self._error(f"upload {name}", error) from error

    def download(self, name: str) -> BinaryIO:
        blob = self.container.get_blob_client(self.keys.key(name))
        try:
            downloader = blob.download_blob(max_concurrency=1)
        except ResourceNotFoundError as error:
            raise BackupNotFound(f"object {name} does not exist in {self.where}") from error
        except AZURE_ERRORS as error:
            raise self._error(f"download {name}", error) from error

        def translate(error: Exception) -> BaseException:
            return self._error(f"download {name}", error) if isinstance(error, AZURE_ERRORS) else error

        return TranslatingReader(downloader, translate)  # type: ignore[return-value]

    def list(self) -> Sequence[StoredObject]:
        objects = []
        try:
            # walk_blobs with "/" stops at the prefix's own level: another sidecar's deeper
            # prefix shows up as a BlobPrefix, not as its objects.
            for item in self.container.walk_blobs(name_starts_with=self.keys.folder, delimiter="/"):
                if isinstance(item, BlobPrefix):
                    continue
                name = self.keys.name(item.name)
                if name:
                    objects.append(StoredObject(name=name, size=int(item.size or 0), modified=_utc(item.last_modified)))
        except AZURE_ERRORS as error:
            raise self._error("list objects", error) from error
        return objects

    def delete(self, name: str) -> None:
        try:
            self.container.get_blob_client(self.keys.key(name)).delete_blob(delete_snapshots="include")
        except ResourceNotFoundError:
            pass
        except AZURE_ERRORS as error:
            raise self._error(f"delete {name}", error) from error


def _utc(value: Any) -> datetime:
    if not isinstance(value, datetime):
        return datetime.now(UTC)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
