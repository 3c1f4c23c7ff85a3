"""``--backup-provider s3``: backups as objects in an S3 bucket, below ``--object-prefix``."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from datetime import datetime, timedelta, UTC
from typing import TYPE_CHECKING, Any, BinaryIO

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from brs.errors import BackupNotFound, StorageError
from brs.interfaces import Storage, StoredObject, StoredVersion
from brs.kit.errors import storage_error
from brs.kit.objects import ObjectKeys
from brs.legacy.naming import is_bucket_name

from brs_storage_s3 import lifecycle
from brs_storage_s3.client import DEFAULT_REGION, make_client
from brs_storage_s3.errors import describe, error_code
from brs_storage_s3.multipart import MultipartUpload
from brs_storage_s3.options import S3Options
from brs_storage_s3.streams import ResumingReader

if TYPE_CHECKING:
    from brs.interfaces import PluginContext

__all__ = ["S3Storage"]

#: Unfinished multipart uploads older than this belong to killed backups; their parts cost
#: money until aborted. Younger ones may still be running in another process.
STALE_UPLOAD_AGE = timedelta(hours=24)
_STREAM_ERRORS = (ResponseStreamingError, ReadTimeoutError, IncompleteReadError, ConnectionClosedError)
_BOTO_ERRORS = (BotoCoreError, ClientError)


class S3Storage(Storage[S3Options]):
    """Objects ``<prefix>/<name>`` in ``--s3-bucket-name`` on AWS or an S3-compatible server.

    Uploads are multipart uploads of a stream with bounded memory (about three parts); S3 only
    shows an object once its upload completed, and a failed upload is aborted, so nothing
    partial is ever listed.
    """

    Options = S3Options

    def __init__(self, context: PluginContext[S3Options]) -> None:
        super().__init__(context)
        self.prefix = context.object_prefix.strip("/")
        self.keys = ObjectKeys.below(self.prefix)
        if self.settings.insecure_skip_verify:
            # urllib3 would warn on every request; say it once.
            warnings.filterwarnings("ignore", message="Unverified HTTPS request")
            self.log.warning("TLS certificate verification of %s is disabled", self.settings.endpoint or "S3")
        self._client: Any = None

    def location(self) -> str:
        return f"s3://{self.settings.bucket}/{self.prefix}".rstrip("/")

    # -- helpers ---------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """The botocore client, created on first use (constructing it reads credential files)."""
        if self._client is None:
            try:
                self._client = make_client(self.settings)
            except BotoCoreError as error:
                raise self._error("connect", error) from error
        return self._client

    @property
    def where(self) -> str:
        """``s3://bucket/prefix/`` and the endpoint, for messages."""
        location = f"s3://{self.settings.bucket}/{self.keys.folder}"
        return f"{location} at {self.settings.endpoint}" if self.settings.endpoint else location

    def _error(self, action: str, error: BaseException) -> StorageError:
        return storage_error(action, self.where, describe(error), secrets=(self.settings.secret_key,))

    # -- the storage contract -----------------------------------------------------------------------------
    def ensure(self) -> None:
        # ListObjectsV2 rather than HeadBucket: a HEAD response has no body, so a 403 could not
        # tell bad credentials from a missing permission, and it needs only s3:ListBucket too.
        try:
            self._probe()
        except ClientError as error:
            if error_code(error) not in ("NoSuchBucket", "404", "NotFound"):
                raise self._error("open the bucket", error) from error
            self._create_bucket()
            try:
                self._probe()
            except _BOTO_ERRORS as error:
                raise self._error("list objects", error) from error
        except BotoCoreError as error:
            raise self._error("open the bucket", error) from error
        if self.settings.lifecycle_days is not None:
            try:
                if lifecycle.install_rule(self.client, self.settings.bucket, self.prefix, self.settings.lifecycle_days):
                    self.log.info(
                        "lifecycle rule %s installed on bucket %s", lifecycle.rule_id(self.prefix), self.settings.bucket
                    )
            except _BOTO_ERRORS as error:
                raise self._error("install the lifecycle rule", error) from error
        self.abort_stale_uploads(STALE_UPLOAD_AGE)

    def _probe(self) -> None:
        self.client.list_objects_v2(Bucket=self.settings.bucket, Prefix=self.keys.folder, Delimiter="/", MaxKeys=1)

    def _create_bucket(self) -> None:
        bucket = self.settings.bucket
        if not self.settings.create_bucket:
            raise StorageError(f"bucket {bucket} does not exist ({self.where}) and --no-s3-create-bucket is set")
        region = self.client.meta.region_name
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if region and region != DEFAULT_REGION:
            # Outside us-east-1, AWS needs the region again in the body (the original omitted it).
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self.client.create_bucket(**kwargs)
            self.log.info("created bucket %s", bucket)
        except ClientError as error:
            if error_code(error) == "BucketAlreadyOwnedByYou":
                return
            if error_code(error) == "BucketAlreadyExists":
                raise StorageError(
                    f"bucket {bucket} does not exist for these credentials and its name is taken ({self.where})"
                ) from error
            raise self._error("create the missing bucket", error) from error
        except BotoCoreError as error:
            raise self._error("create the missing bucket", error) from error

    def upload(self, name: str, source: BinaryIO) -> int:
        upload = MultipartUpload(
            self.client,
            self.settings.bucket,
            self.keys.key(name),
            source,
            part_size=self.settings.part_size,
            concurrency=self.settings.upload_concurrency,
            checksum=None if self._checksum_mode() == "when_required" else "CRC32",
        )
        try:
            return upload.run()
        except _BOTO_ERRORS as error:
            raise self._error(f"upload {name}", error) from error

    def _checksum_mode(self) -> str:
        return str(getattr(self.client.meta.config, "request_checksum_calculation", None) or "when_supported")

    def download(self, name: str) -> BinaryIO:
        return self._open(name, self.keys.key(name))

    def _open(self, name: str, key: str, version_id: str | None = None, start: int = 0) -> BinaryIO:
        def open_at(offset: int) -> Any:
            kwargs = {"Bucket": self.settings.bucket, "Key": key}
            if version_id is not None:
                kwargs["VersionId"] = version_id
            if start + offset:
                kwargs["Range"] = f"bytes={start + offset}-"
            return self.client.get_object(**kwargs)["Body"]

        def translate(error: Exception) -> BaseException:
            return self._error(f"download {name}", error) if isinstance(error, _BOTO_ERRORS) else error

        try:
            return ResumingReader(open_at, _STREAM_ERRORS, translate)  # type: ignore[return-value]
        except ClientError as error:
            if error_code(error) in ("NoSuchKey", "NoSuchVersion", "404", "NotFound"):
                raise BackupNotFound(f"object {name} does not exist in {self.where}") from error
            raise self._error(f"download {name}", error) from error
        except BotoCoreError as error:
            raise self._error(f"download {name}", error) from error

    def list(self) -> Sequence[StoredObject]:
        objects = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.settings.bucket, Prefix=self.keys.folder, Delimiter="/"
            )
            for page in pages:
                for item in page.get("Contents", ()):
                    name = self.keys.name(item["Key"])
                    if name:
                        objects.append(StoredObject(name=name, size=int(item["Size"]), modified=_utc(item["LastModified"])))
        except _BOTO_ERRORS as error:
            raise self._error("list objects", error) from error
        return objects

    def delete(self, name: str) -> None:
        try:
            self.client.delete_object(Bucket=self.settings.bucket, Key=self.keys.key(name))
        except ClientError as error:
            if error_code(error) not in ("NoSuchKey", "404", "NotFound"):
                raise self._error(f"delete {name}", error) from error
        except BotoCoreError as error:
            raise self._error(f"delete {name}", error) from error

    # -- backups of backup-restore-sidecar ----------------------------------------------------
    def legacy_list(self) -> Sequence[StoredVersion]:
        """Every version of ``[prefix/]db.tar*``: the old tool overwrote one key in a versioned bucket."""
        stem = self.keys.folder + "db.tar"
        versions = []
        try:
            for page in self.client.get_paginator("list_object_versions").paginate(Bucket=self.settings.bucket, Prefix=stem):
                for item in page.get("Versions", ()):  # delete markers are listed apart and ignored
                    if is_bucket_name(self.keys.name(item["Key"]) or ""):
                        versions.append(
                            StoredVersion(item["Key"], str(item["VersionId"]), int(item["Size"]), _utc(item["LastModified"]))
                        )
        except ClientError as error:
            if error_code(error) not in ("AccessDenied", "NotImplemented", "MethodNotAllowed"):
                raise self._error("list object versions", error) from error
            self.log.warning(
                "cannot list object versions in %s (%s): only the current version of old backups is seen",
                self.where,
                error_code(error),
            )
            return self._current_legacy_versions(stem)
        except BotoCoreError as error:
            raise self._error("list object versions", error) from error
        return versions

    def _current_legacy_versions(self, stem: str) -> Sequence[StoredVersion]:
        versions = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.settings.bucket, Prefix=stem):
                for item in page.get("Contents", ()):
                    if is_bucket_name(self.keys.name(item["Key"]) or ""):
                        head = self.client.head_object(Bucket=self.settings.bucket, Key=item["Key"])
                        version = str(head.get("VersionId") or "null")
                        versions.append(StoredVersion(item["Key"], version, int(item["Size"]), _utc(item["LastModified"])))
        except _BOTO_ERRORS as error:
            raise self._error("list objects", error) from error
        return versions

    def legacy_open(self, version: StoredVersion, offset: int) -> BinaryIO:
        key = self._legacy_key(version)
        return self._open(f"{key} version {version.version}", key, version.version, offset)

    def legacy_delete(self, version: StoredVersion) -> None:
        key = self._legacy_key(version)
        try:
            self.client.delete_object(Bucket=self.settings.bucket, Key=key, VersionId=version.version)
        except ClientError as error:
            if error_code(error) not in ("NoSuchKey", "NoSuchVersion", "404", "NotFound"):
                raise self._error(f"delete {key} version {version.version}", error) from error
        except BotoCoreError as error:
            raise self._error(f"delete {key} version {version.version}", error) from error

    def _legacy_key(self, version: StoredVersion) -> str:
        key = version.name
        if not is_bucket_name(self.keys.name(key) or ""):
            raise StorageError(f"invalid old object name {key!r}")
        return key

    # -- maintenance -------------------------------------------------------------------------
    def abort_stale_uploads(self, older_than: timedelta) -> int:
        """Abort unfinished multipart uploads below the prefix started before ``older_than`` ago.

        Best effort: the permission (s3:ListBucketMultipartUploads, s3:AbortMultipartUpload)
        is optional, so a refusal is logged, not raised.
        """
        cutoff = datetime.now(UTC) - older_than
        aborted = 0
        try:
            pages = self.client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.settings.bucket, Prefix=self.keys.folder, Delimiter="/"
            )
            for page in pages:
                for upload in page.get("Uploads", ()):
                    if _utc(upload["Initiated"]) < cutoff:
                        self.client.abort_multipart_upload(
                            Bucket=self.settings.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )
                        aborted += 1
        except _BOTO_ERRORS as error:
            self.log.debug("cannot clean up unfinished uploads in %s: %s", self.where, self._error("list", error))
        if aborted:
            self.log.info("aborted %d unfinished uploads older than %s in %s", aborted, older_than, self.where)
        return aborted


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
