"""S3-compatible object storage (AWS S3, MinIO, SeaweedFS, Cloudflare R2, Aliyun OSS, ...).

Object ``key`` lives at ``<prefix><key>`` in one bucket, created on start when missing.
Invariants:

* ``put_stream`` holds at most one part in memory; a stream past ``max_bytes`` or any error
  aborts the multipart upload, so no object and no unfinished upload is left behind.
* Every request goes through botocore's retry handler (``standard`` or ``adaptive`` mode,
  ``max_attempts`` tries), except the health check, which makes one attempt with short
  timeouts on a client of its own; what still fails surfaces as :class:`StorageUnavailable` (503),
  a missing object as :class:`NotFound`.
* A :class:`StorageUnavailable` that reaches a client names the operation only; botocore's text
  (the endpoint, the bucket) goes to the log, with credentials masked. Only the start-up error,
  which the operator reads, names the store.
* ``delete_prefix`` works on whole segments (``results/12`` never touches ``results/123/``) and
  deletes page by page, so any number of objects is removed without listing them all first.

boto3 is imported here only, so a server on local storage runs without it (extra ``yinzi[s3]``).
"""

from __future__ import annotations

import io
import logging
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

from yinzi.errors import ConfigurationError, NotFound, PayloadTooLarge, YinziError
from yinzi.settings import S3Settings
from yinzi.storage.base import StorageUnavailable
from yinzi.storage.disposition import attachment
from yinzi.storage.keys import is_prefix_of_keys
from yinzi.storage.signing import RecentLinks, signed_link

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

MIB = 1024 * 1024
CHUNK = MIB
_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@")


class S3Storage:
    delete_batch = 1000
    """Keys listed and deleted per request (S3's own maximum)."""

    def __init__(
        self,
        settings: S3Settings,
        *,
        base_url: str,
        secret: bytes,
        part_size: int | None = None,
        check_timeout: float = 2.0,
    ) -> None:
        try:
            import boto3
        except ImportError as exc:
            raise ConfigurationError(
                "YINZI_STORAGE=s3 needs boto3: pip install 'yinzi[s3]'"
            ) from exc
        self.settings = settings
        self.bucket = settings.bucket
        self.prefix = settings.prefix.strip("/") + "/" if settings.prefix.strip("/") else ""
        self.presign = settings.presign
        self.base_url = base_url.rstrip("/")
        self.secret = secret
        self._links = RecentLinks()
        self.part_size = part_size or settings.part_size_mb * MIB
        session = boto3.session.Session()
        self.client: S3Client = self._client(
            session,
            settings.retry_mode,
            settings.max_attempts,
            settings.connect_timeout_seconds,
            settings.read_timeout_seconds,
        )
        self._check_client: S3Client = self._client(
            session, "standard", 1, check_timeout, check_timeout
        )
        self._ensure_bucket()

    def _client(
        self,
        session: Any,
        mode: Literal["standard", "adaptive"],
        attempts: int,
        connect: float,
        read: float,
    ) -> S3Client:
        from botocore.config import Config

        config = Config(  # total_max_attempts counts every try; botocore's max_attempts, retries
            retries={"mode": mode, "total_max_attempts": attempts},
            s3={"addressing_style": self.settings.addressing_style},
            signature_version="s3v4",
            connect_timeout=connect,
            read_timeout=read,
        )
        client: S3Client = session.client(
            "s3",
            endpoint_url=self.settings.endpoint_url,
            region_name=self.settings.region,
            aws_access_key_id=self.settings.access_key_id,
            aws_secret_access_key=self.settings.secret_access_key,
            config=config,
        )
        return client

    def _name(self, key: str) -> str:
        if not is_prefix_of_keys(key):
            raise NotFound("no such file")
        return self.prefix + key

    def _call(self, what: str, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` with botocore's errors turned into Yinzi's."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(*args, **kwargs)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _MISSING:
                raise NotFound("this file no longer exists") from exc
            raise self._unavailable(what, exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable(what, exc) from exc

    def _unavailable(self, what: str, exc: Exception) -> StorageUnavailable:
        """The error a client sees: the operation only, never botocore's text (which names the
        endpoint and bucket); that text goes to the log, without credentials."""
        log.warning("the object store could not %s: %s", what, self._detail(exc))
        return StorageUnavailable(f"the object store could not {what}; try again later")

    def _detail(self, exc: BaseException | None) -> str:
        """One line saying what went wrong, with URL credentials and the access keys masked."""
        text = " ".join(f"{type(exc).__name__}: {exc}".split())
        text = _URL_CREDENTIALS.sub(r"\g<scheme>***@", text)
        for secret in (self.settings.secret_access_key, self.settings.access_key_id):
            if secret:
                text = text.replace(secret, "***")
        return text

    def _ensure_bucket(self) -> None:
        """Find or create the bucket; at start-up the error names the store, for the operator."""
        try:
            self._find_or_create_bucket()
        except StorageUnavailable as exc:
            where = self.settings.endpoint_url or "AWS S3"
            detail = self._detail(exc.__cause__)
            raise StorageUnavailable(
                f"the object store at {where} (bucket {self.bucket}) cannot be used: {detail}"
            ) from exc

    def _find_or_create_bucket(self) -> None:
        try:
            self._call("find the bucket", self.client.head_bucket, Bucket=self.bucket)
            return
        except NotFound:
            pass
        args: dict[str, Any] = {"Bucket": self.bucket}
        if self.settings.region and self.settings.region != "us-east-1":
            args["CreateBucketConfiguration"] = {"LocationConstraint": self.settings.region}
        self._call("create the bucket", self.client.create_bucket, **args)

    def put_file(self, key: str, src: Path) -> None:
        with src.open("rb") as stream:
            self.put_stream(key, stream, max_bytes=src.stat().st_size)

    def put_stream(self, key: str, stream: BinaryIO, *, max_bytes: int) -> int:
        name = self._name(key)
        first = _read_part(stream, self.part_size)
        length = first.getbuffer().nbytes
        if length < self.part_size:
            _check_limit(length, max_bytes)
            self._call(
                "store a file", self.client.put_object, Bucket=self.bucket, Key=name, Body=first
            )
            return length
        upload = self._call(
            "start an upload", self.client.create_multipart_upload, Bucket=self.bucket, Key=name
        )
        upload_id: str = upload["UploadId"]
        try:
            size = self._upload_parts(name, upload_id, first, stream, max_bytes)
        except BaseException:
            self._abort(name, upload_id)
            raise
        return size

    def _upload_parts(
        self, name: str, upload_id: str, first: io.BytesIO, stream: BinaryIO, max_bytes: int
    ) -> int:
        parts: list[dict[str, Any]] = []
        size = 0
        body = first
        while length := body.getbuffer().nbytes:
            size += length
            _check_limit(size, max_bytes)
            number = len(parts) + 1
            answer = self._call(
                "store a part",
                self.client.upload_part,
                Bucket=self.bucket,
                Key=name,
                UploadId=upload_id,
                PartNumber=number,
                Body=body,
            )
            parts.append({"PartNumber": number, "ETag": answer["ETag"]})
            body = _read_part(stream, self.part_size)
        self._call(
            "finish an upload",
            self.client.complete_multipart_upload,
            Bucket=self.bucket,
            Key=name,
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},
        )
        return size

    def _abort(self, name: str, upload_id: str) -> None:
        try:
            self._call(
                "abort an upload",
                self.client.abort_multipart_upload,
                Bucket=self.bucket,
                Key=name,
                UploadId=upload_id,
            )
        except YinziError:
            pass  # the bucket's lifecycle rule for unfinished uploads is the last resort

    def open_local(self, key: str, workdir: Path) -> Path:
        name = self._name(key)
        folder = Path(tempfile.mkdtemp(prefix="s3-", dir=workdir))
        dest = folder / key.rsplit("/", 1)[-1]
        self._call(
            "fetch a file",
            self.client.download_file,
            Bucket=self.bucket,
            Key=name,
            Filename=str(dest),
        )
        return dest

    def check(self) -> None:
        """Raises unless the bucket answers (for ``/healthz``): one HEAD request, one attempt,
        ``check_timeout`` seconds to connect and to read."""
        self._check_client.head_bucket(Bucket=self.bucket)

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except NotFound:
            return False
        return True

    def size(self, key: str) -> int:
        head = self._call(
            "look up a file", self.client.head_object, Bucket=self.bucket, Key=self._name(key)
        )
        return int(head["ContentLength"])

    def open_read(self, key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": self._name(key)}
        if start or end is not None:
            args["Range"] = f"bytes={start}-{'' if end is None else end}"
        answer = self._call("read a file", self.client.get_object, **args)
        return _chunks(answer["Body"])

    def delete_prefix(self, prefix: str) -> int:
        base = self._name(prefix.rstrip("/"))
        paginator = self.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(
            Bucket=self.bucket, Prefix=base, PaginationConfig={"PageSize": self.delete_batch}
        )
        listing = iter(pages)
        count = 0
        while (page := self._call("list files", next, listing, None)) is not None:
            names = [
                item["Key"]
                for item in page.get("Contents", [])
                if item["Key"] == base or item["Key"].startswith(base + "/")
            ]
            if names:
                self._delete(names)
                count += len(names)
        return count

    def _delete(self, names: list[str]) -> None:
        answer = self._call(
            "delete files",
            self.client.delete_objects,
            Bucket=self.bucket,
            Delete={"Objects": [{"Key": name} for name in names], "Quiet": True},
        )
        failed = [e for e in answer.get("Errors", []) if e.get("Code") not in _MISSING]
        if failed:
            first = failed[0]
            log.warning(
                "the object store kept %d files, the first %s: %s %s",
                len(failed),
                first.get("Key"),
                first.get("Code"),
                first.get("Message"),
            )
            raise StorageUnavailable(f"the object store kept {len(failed)} files; try again later")

    def url(self, key: str, *, ttl_seconds: int) -> str:
        return self._links.get(key, ttl_seconds, lambda: self._link(key, ttl_seconds))

    def _link(self, key: str, ttl_seconds: int) -> str:
        if not self.presign:
            return signed_link(self.base_url, self.secret, key, ttl_seconds)
        filename = key.rsplit("/", 1)[-1]
        link: str = self._call(
            "sign a link",
            self.client.generate_presigned_url,
            ClientMethod="get_object",
            Params={
                "Bucket": self.bucket,
                "Key": self._name(key),
                "ResponseContentDisposition": attachment(filename),
            },
            ExpiresIn=ttl_seconds,
        )
        return link


def _read_part(stream: BinaryIO, size: int) -> io.BytesIO:
    """Up to ``size`` bytes, as a rewound buffer: short only at the end of the stream."""
    buffer = io.BytesIO()
    while (have := buffer.tell()) < size:
        chunk = stream.read(min(CHUNK, size - have))
        if not chunk:
            break
        buffer.write(chunk)
    buffer.seek(0)
    return buffer


def _check_limit(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise PayloadTooLarge(f"the file is larger than the limit of {max_bytes} bytes")


def _chunks(body: Any) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(CHUNK)
    finally:
        body.close()
