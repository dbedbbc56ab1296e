"""boto3's managed ``copy`` on a guarded client: server-side where the store can, else streamed.

Where the store copies with SSE headers (profile ``copy_with_sse``) the copy
stays on the server: one CopyObject below one part, else a multipart upload
of UploadPartCopy ranges in parallel (each retried on its own, the upload
aborted on failure, the stored length checked).  A store that answers one of
them 501 NotImplemented (SeaweedFS 4.48 refuses UploadPartCopy of encrypted
objects) gets the streamed copy instead, its upload aborted first.  Elsewhere
every safes3 copy would be refused (each carries the policy's encryption), so the bytes are
streamed instead: :func:`safes3.download` of the source (verified) feeds
:func:`safes3.upload` of the destination through a bounded relay, and the
destination's last bytes are handed over only after the source verified, so a
bad source never completes an object.

SSE-C keys follow :mod:`safes3._core._rules`: the destination gets the client's
key, the source ``CopySourceSSECustomerKey`` when given, else the client's
key.  Reads of the source (its HeadObject, and GetObject when streaming) go
through ``SourceClient`` when given, which must be a safes3 client too.
"""

from __future__ import annotations

import dataclasses
import io
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from safes3._boundary import boundary
from safes3._core._hooks import guard_policy
from safes3._exceptions import (
    ConfigurationError,
    IntegrityError,
    TransferClientError,
    TransferError,
)
from safes3._transfer._download import download
from safes3._transfer._dropin import (
    ALLOWED_COPY,
    as_client_error,
    progress_for,
    settings_for,
    upload_extra,
)
from safes3._transfer._relay import Relay
from safes3._transfer._retry import describe, quiet_botocore, run
from safes3._transfer._settings import TransferSettings, part_size_for
from safes3._transfer._stored import StoredObject
from safes3._transfer._upload import upload

__all__ = ["copy"]

_PRESERVED = (
    "CacheControl",
    "ContentDisposition",
    "ContentEncoding",
    "ContentLanguage",
    "ContentType",
    "Expires",
    "Metadata",
)
_READ_ARGS = {
    "CopySourceIfMatch": "IfMatch",
    "CopySourceIfModifiedSince": "IfModifiedSince",
    "CopySourceIfNoneMatch": "IfNoneMatch",
    "CopySourceIfUnmodifiedSince": "IfUnmodifiedSince",
    "CopySourceSSECustomerKey": "SSECustomerKey",
    "CopySourceSSECustomerAlgorithm": "SSECustomerAlgorithm",
    "CopySourceSSECustomerKeyMD5": "SSECustomerKeyMD5",
    "RequestPayer": "RequestPayer",
    "ExpectedBucketOwner": "ExpectedBucketOwner",
}
_ABORT_ARGS = frozenset({"ExpectedBucketOwner", "RequestPayer"})
_PART_ARGS = frozenset(
    {
        *(k for k in _READ_ARGS if k.startswith("CopySource")),
        "SSECustomerKey",
        "SSECustomerAlgorithm",
        "SSECustomerKeyMD5",
        "RequestPayer",
        "ExpectedBucketOwner",
    }
)
_NOT_FOR_CREATE = frozenset(
    {
        *(k for k in _READ_ARGS if k.startswith("CopySource")),
        "MetadataDirective",
        "TaggingDirective",
        "AnnotationDirective",
    }
)


def copy(
    self: Any,
    CopySource: Mapping[str, Any],
    Bucket: str,
    Key: str,
    ExtraArgs: Mapping[str, Any] | None = None,
    Callback: Callable[[int], Any] | None = None,
    SourceClient: Any = None,
    Config: Any = None,
) -> None:
    """boto3's managed ``copy`` (see the module docstring and docs/transfers.md)."""
    if not isinstance(CopySource, Mapping) or not {"Bucket", "Key"} <= set(CopySource):
        raise ConfigurationError(
            'CopySource must be a dict: {"Bucket": bucket, "Key": key} (and "VersionId")'
        )
    extra, checksum = upload_extra(ExtraArgs, ALLOWED_COPY)
    source_client = self if SourceClient is None else SourceClient
    policy = guard_policy(self.meta.events)
    if policy is None or guard_policy(source_client.meta.events) is None:
        raise ConfigurationError(
            "copy() needs clients made by safes3.client(): SourceClient carries no safes3 guards"
        )
    quiet_botocore(self)
    quiet_botocore(source_client)
    source = {k: CopySource[k] for k in ("Bucket", "Key", "VersionId") if CopySource.get(k)}
    read = {_READ_ARGS[k]: v for k, v in extra.items() if k in _READ_ARGS}
    if "VersionId" in source:
        read["VersionId"] = source["VersionId"]
    settings = settings_for(Config, checksum=checksum)
    job = _Copy(self, source_client, source, read, Bucket, Key, extra, settings)
    try:
        with boundary(f"copy to s3://{Bucket}/{Key}", into=TransferError, answers=_answer):
            head = run(
                settings,
                lambda: source_client.head_object(
                    Bucket=source["Bucket"], Key=source["Key"], **read
                ),
                lambda *_: None,
            )
            size = int(head["ContentLength"])
            job.single_below = settings_for(Config, size=size, checksum=checksum).part_size
            job.progress = progress_for(Callback)
            if policy.profile.copy_with_sse:
                try:
                    job.on_server(head, size)
                    return
                except _NotImplemented:
                    pass
            _streamed(job, head, size)
    except TransferError as exc:
        converted = as_client_error(exc)
        if converted is exc:
            raise
        raise converted from exc


def _answer(message: str, exc: ClientError) -> TransferClientError:
    """The store's error answer to a copy, still a ``ClientError`` for boto3's callers."""
    return TransferClientError(message, exc.response, exc.operation_name)


class _NotImplemented(Exception):
    """The store answered a server-side copy with 501 NotImplemented (not worth a retry)."""


def _server_side(call: Callable[[], Any]) -> Callable[[], Any]:
    def attempt() -> Any:
        try:
            return call()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NotImplemented":
                raise _NotImplemented(describe(exc)) from exc
            raise

    return attempt


def _preserve(extra: dict[str, Any], head: Mapping[str, Any]) -> dict[str, Any]:
    """What CreateMultipartUpload/PutObject get: the source's metadata unless REPLACE."""
    out = {k: v for k, v in extra.items() if k not in _NOT_FOR_CREATE}
    if extra.get("MetadataDirective") != "REPLACE":
        out = {k: v for k, v in out.items() if k not in _PRESERVED}
        out.update({k: head[k] for k in _PRESERVED if head.get(k)})
    return out


@dataclasses.dataclass
class _Copy:
    s3: Any
    source_client: Any
    source: dict[str, Any]
    read: dict[str, Any]
    bucket: str
    key: str
    extra: dict[str, Any]
    settings: TransferSettings
    progress: Callable[[int, int | None], None] | None = None
    single_below: int = 0
    """One CopyObject below this size (one part, or ``multipart_threshold``)."""

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def on_server(self, head: Mapping[str, Any], size: int) -> None:
        if size < self.single_below:
            run(
                self.settings,
                _server_side(
                    lambda: self.s3.copy_object(
                        CopySource=self.source, Bucket=self.bucket, Key=self.key, **self.extra
                    )
                ),
                lambda *_: None,
            )
            self._report(size, size)
            return
        created = run(
            self.settings,
            lambda: self.s3.create_multipart_upload(
                Bucket=self.bucket, Key=self.key, **_preserve(self.extra, head)
            ),
            lambda *_: None,
        )
        upload_id = created["UploadId"]
        try:
            parts = self._copy_parts(upload_id, size)
            every = {k: v for k, v in self.extra.items() if k in _PART_ARGS}
            done = run(
                self.settings,
                lambda: self.s3.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=self.key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                    **{k: v for k, v in every.items() if not k.startswith("CopySource")},
                ),
                lambda *_: None,
            )
        except BaseException as exc:
            if not self._abort(upload_id):
                raise TransferError(
                    f"copy to {self.where} failed ({describe(exc)}); aborting the multipart "
                    f"upload {upload_id} FAILED: abort it by hand"
                ) from exc
            raise
        self._check_length(size, done.get("VersionId"))

    def _copy_parts(self, upload_id: str, size: int) -> list[dict[str, Any]]:
        part = part_size_for(size, self.settings.part_size)
        every = {k: v for k, v in self.extra.items() if k in _PART_ARGS}
        etags: dict[int, str] = {}
        done = 0

        def one(number: int, start: int) -> tuple[int, str, int]:
            end = min(start + part, size) - 1
            reply = run(
                self.settings,
                _server_side(
                    lambda: self.s3.upload_part_copy(
                        Bucket=self.bucket,
                        Key=self.key,
                        UploadId=upload_id,
                        PartNumber=number,
                        CopySource=self.source,
                        CopySourceRange=f"bytes={start}-{end}",
                        **every,
                    )
                ),
                lambda *_: None,
            )
            return number, reply["CopyPartResult"]["ETag"], end - start + 1

        with ThreadPoolExecutor(self.settings.max_concurrency, "safes3-copy") as pool:
            futures: list[Future[tuple[int, str, int]]] = [
                pool.submit(one, i + 1, start) for i, start in enumerate(range(0, size, part))
            ]
            try:
                for future in as_completed(futures):
                    number, etag, length = future.result()
                    etags[number] = etag
                    done += length
                    self._report(done, size)
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
        return [{"PartNumber": n, "ETag": etags[n]} for n in sorted(etags)]

    def _abort(self, upload_id: str) -> bool:
        """AbortMultipartUpload, retried, with the caller's payer and owner arguments."""
        owner = {k: v for k, v in self.extra.items() if k in _ABORT_ARGS}
        try:
            run(
                self.settings,
                lambda: self.s3.abort_multipart_upload(
                    Bucket=self.bucket, Key=self.key, UploadId=upload_id, **owner
                ),
                lambda *_: None,
            )
        except (BotoCoreError, ClientError):
            return False
        return True

    def _check_length(self, size: int, version: str | None) -> None:
        """The stored length; a wrong copy is removed (its version, on a versioned bucket)."""
        stored = StoredObject(self.s3, self.bucket, self.key, version)
        head = run(
            self.settings,
            lambda: self.s3.head_object(Bucket=self.bucket, Key=self.key, **stored.pinned),
            lambda *_: None,
        )
        if head.get("ContentLength") != size:
            raise IntegrityError(
                f"{self.where} holds {head.get('ContentLength')} bytes after copying {size}; "
                + stored.remove()
            )

    def _report(self, done: int, size: int) -> None:
        if self.progress is not None:
            self.progress(done, size)


def _streamed(job: _Copy, head: Mapping[str, Any], size: int) -> None:
    """GetObject into the engine's upload: for stores that cannot copy with SSE headers.

    Through a :class:`Relay` a few ranges deep, whose last bytes reach the
    upload only once the download verified; a source smaller than one part
    is downloaded whole first.
    """
    dest = _preserve(job.extra, head)
    src = job.source

    def fetch(into: Any) -> None:
        download(
            job.source_client,
            src["Bucket"],
            src["Key"],
            into,
            settings=job.settings,
            extra_args=job.read,
        )

    def put(source: Any, size: int | None = None) -> None:
        upload(
            job.s3,
            source,
            job.bucket,
            job.key,
            settings=job.settings,
            size=size,
            progress=job.progress,
            extra_args=dest,
        )

    if size < job.settings.part_size:
        buffer = io.BytesIO()
        fetch(buffer)
        put(buffer.getbuffer())
        return
    relay = Relay(size)

    def read() -> None:
        try:
            fetch(relay)
        except BaseException as exc:  # noqa: BLE001 - handed to the uploading thread
            relay.finish(exc)
        else:
            relay.finish(None)

    reader = threading.Thread(target=read, name="safes3-copy-read", daemon=True)
    reader.start()
    try:
        put(relay, size)
    finally:
        relay.close()
        reader.join()
