"""``--backup-provider gcs``: backups as objects in a Google Cloud Storage bucket."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from datetime import datetime, UTC
from typing import TYPE_CHECKING, Any, BinaryIO

from brs.errors import BackupNotFound, StorageError
from brs.interfaces import Storage, StoredObject, StoredVersion
from brs.kit.errors import storage_error
from brs.kit.objects import ObjectKeys
from brs.legacy.naming import is_bucket_name
from brs.streams import FullReader, TranslatingReader
from google.api_core import exceptions as api

from brs_storage_gcs.client import TIMEOUT, make_client, make_retry
from brs_storage_gcs.errors import GCS_ERRORS, describe
from brs_storage_gcs.options import GcsOptions
from brs_storage_gcs.reads import ChunkReader

if TYPE_CHECKING:
    from brs.interfaces import PluginContext
    from google.cloud import storage

__all__ = ["GcsStorage"]


class GcsStorage(Storage[GcsOptions]):
    """Objects ``<prefix>/<name>`` in ``--gcp-bucket-name``.

    Uploads are resumable uploads fed chunk by chunk from the stream. GCS creates the object
    only when the final chunk arrives, so an upload that fails or is killed leaves nothing
    listed (its session expires after a week).
    """

    Options = GcsOptions

    def __init__(self, context: PluginContext[GcsOptions]) -> None:
        super().__init__(context)
        self.prefix = context.object_prefix.strip("/")
        self.keys = ObjectKeys.below(self.prefix)
        self._retry = make_retry(self.settings)
        if self.settings.insecure_skip_verify:
            # urllib3 would warn on every request; say it once.
            warnings.filterwarnings("ignore", message="Unverified HTTPS request")
            self.log.warning("TLS certificate verification of the GCS endpoint is disabled")
        self._client: storage.Client | None = None

    # -- helpers ---------------------------------------------------------------------------
    @property
    def client(self) -> storage.Client:
        """The client, created on first use (it looks up credentials)."""
        if self._client is None:
            try:
                self._client = make_client(self.settings)
            except GCS_ERRORS as error:
                raise self._error("authenticate", error) from error
        return self._client

    @property
    def where(self) -> str:
        """``gs://bucket/prefix/``, for messages."""
        return f"gs://{self.settings.bucket}/{self.keys.folder}"

    def _error(self, action: str, error: BaseException) -> StorageError:
        return storage_error(action, self.where, describe(error))

    def _probe(self) -> None:
        # Listing needs only storage.objects.list, which any role that can back up has; reading
        # the bucket's metadata would need storage.buckets.get as well.
        iterator = self.client.list_blobs(
            self.settings.bucket, prefix=self.keys.folder, delimiter="/", max_results=1, retry=self._retry, timeout=TIMEOUT
        )
        next(iter(iterator.pages), None)

    # -- the storage contract -----------------------------------------------------------------------------
    def ensure(self) -> None:
        try:
            self._probe()
            return
        except api.NotFound as error:
            missing: BaseException = error
        except GCS_ERRORS as error:
            raise self._error("open the bucket", error) from error
        if not self.settings.create_bucket:
            raise StorageError(
                f"bucket {self.settings.bucket} does not exist ({self.where}) and --no-gcp-create-bucket is set"
            ) from missing
        try:
            self.client.create_bucket(
                self.settings.bucket,
                project=self.settings.project,
                location=self.settings.location,
                retry=self._retry,
                timeout=TIMEOUT,
            )
            self.log.info("created bucket %s", self.settings.bucket)
        except api.Conflict:
            pass  # created concurrently, or the name belongs to someone else (the probe below tells)
        except GCS_ERRORS as error:
            raise self._error("create the missing bucket", error) from error
        try:
            self._probe()
        except GCS_ERRORS as error:
            raise self._error("open the bucket", error) from error

    def upload(self, name: str, source: BinaryIO) -> int:
        blob = self.client.bucket(self.settings.bucket).blob(self.keys.key(name), chunk_size=self.settings.chunk_size)
        reader = FullReader(source)
        try:
            # if_generation_match=0: never replace an object, and it makes the upload safe to
            # retry in the library's eyes. A source error propagates before the final chunk, so
            # the object is never created.
            blob.upload_from_file(
                reader,
                rewind=False,
                size=None,
                content_type="application/octet-stream",
                if_generation_match=0,
                retry=self._retry,
                timeout=TIMEOUT,
            )
        except GCS_ERRORS as error:
            raise self._error(f"upload {name}", error) from error
        return reader.tell()

    def download(self, name: str) -> BinaryIO:
        return self._open(name, self.keys.key(name))

    def _open(self, name: str, key: str, generation: int | None = None, offset: int = 0) -> BinaryIO:
        blob = self.client.bucket(self.settings.bucket).blob(key, generation=generation)
        try:
            blob.reload(retry=self._retry, timeout=TIMEOUT)
        except api.NotFound as error:
            raise BackupNotFound(f"object {name} does not exist in {self.where}") from error
        except GCS_ERRORS as error:
            raise self._error(f"download {name}", error) from error
        # Ranged reads of one chunk each, pinned to the generation just seen, retried per chunk.
        pinned = self.client.bucket(self.settings.bucket).blob(key, generation=blob.generation)
        inner = ChunkReader(pinned, self.settings.chunk_size, self._retry, TIMEOUT, offset)

        def translate(error: Exception) -> BaseException:
            return self._error(f"download {name}", error) if isinstance(error, GCS_ERRORS) else error

        return TranslatingReader(inner, translate)  # type: ignore[return-value]

    def list(self) -> Sequence[StoredObject]:
        objects = []
        try:
            for blob in self.client.list_blobs(
                self.settings.bucket, prefix=self.keys.folder, delimiter="/", retry=self._retry, timeout=TIMEOUT
            ):
                name = self.keys.name(blob.name)
                if name:
                    objects.append(StoredObject(name=name, size=int(blob.size or 0), modified=_utc(blob.updated)))
        except GCS_ERRORS as error:
            raise self._error("list objects", error) from error
        return objects

    def legacy_list(self) -> Sequence[StoredVersion]:
        """Every generation of ``[prefix/]db.tar*``: the old tool overwrote one object in a versioned bucket."""
        versions = []
        try:
            for blob in self.client.list_blobs(
                self.settings.bucket, prefix=self.keys.folder + "db.tar", versions=True, retry=self._retry, timeout=TIMEOUT
            ):
                if is_bucket_name(self.keys.name(blob.name) or ""):
                    versions.append(StoredVersion(blob.name, str(blob.generation), int(blob.size or 0), _utc(blob.updated)))
        except GCS_ERRORS as error:
            raise self._error("list object generations", error) from error
        return versions

    def legacy_open(self, version: StoredVersion, offset: int) -> BinaryIO:
        key = self._legacy_key(version)
        return self._open(f"{key} generation {version.version}", key, int(version.version), offset)

    def legacy_delete(self, version: StoredVersion) -> None:
        key = self._legacy_key(version)
        blob = self.client.bucket(self.settings.bucket).blob(key, generation=int(version.version))
        try:
            blob.delete(retry=self._retry, timeout=TIMEOUT)
        except api.NotFound:
            pass
        except GCS_ERRORS as error:
            raise self._error(f"delete {key} generation {version.version}", error) from error

    def _legacy_key(self, version: StoredVersion) -> str:
        key = version.name
        if not is_bucket_name(self.keys.name(key) or "") or not version.version.isdigit():
            raise StorageError(f"invalid old object {key!r} generation {version.version!r}")
        return key

    def delete(self, name: str) -> None:
        try:
            self.client.bucket(self.settings.bucket).blob(self.keys.key(name)).delete(retry=self._retry, timeout=TIMEOUT)
        except api.NotFound:
            pass
        except GCS_ERRORS as error:
            raise self._error(f"delete {name}", error) from error


def _utc(value: Any) -> datetime:
    if not isinstance(value, datetime):
        return datetime.now(UTC)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
