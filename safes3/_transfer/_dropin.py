"""boto3's managed transfer methods on a guarded client, run by safes3's engine.

boto3 injects ``upload_file``, ``upload_fileobj``, ``download_file``,
``download_fileobj`` and ``copy`` into every S3 client class
(boto3/s3/inject.py), and the resource API's ``Bucket``/``Object`` methods of
the same names call them on ``self.meta.client``.  On a safes3 client
:mod:`safes3._core._hooks` replaces them with :func:`transfer_methods`: the same
signatures, run by :func:`safes3.upload` / :func:`safes3.download` (and
:mod:`safes3._transfer._managedcopy`), so they get the engine's speed, verification and
retries, and no path through s3transfer or its CRT client exists, whatever
versions are installed.

What maps how (also in docs/transfers.md): ``ExtraArgs`` pass s3transfer's
allow-lists, then safes3's refusals; ``Callback(n)`` gets byte increments that
sum to the size (one call per finished part or range); ``Config`` fields the
caller set map to :class:`TransferSettings`, unset ones keep the engine's
defaults; store failures raise :class:`UploadFailedError` (boto3's
``S3UploadFailedError``) or :class:`TransferClientError` (botocore's
``ClientError``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, BinaryIO

from botocore.exceptions import ClientError

from safes3._exceptions import (
    ACLRefusedError,
    ConfigurationError,
    IntegrityError,
    TransferClientError,
    TransferError,
    UploadFailedError,
)
from safes3._transfer._download import download
from safes3._transfer._parts import remaining
from safes3._transfer._settings import MAX_PART, MIN_PART, TransferSettings
from safes3._transfer._upload import upload

__all__ = [
    "ALLOWED_COPY",
    "ALLOWED_DOWNLOAD",
    "ALLOWED_UPLOAD",
    "FULL_OBJECT_CHECKSUMS",
    "as_client_error",
    "check_extra",
    "progress_for",
    "settings_for",
    "transfer_methods",
    "upload_extra",
]

_SHARED = frozenset(
    {
        "ACL",
        "CacheControl",
        "ChecksumAlgorithm",
        "ContentDisposition",
        "ContentEncoding",
        "ContentLanguage",
        "ContentType",
        "ExpectedBucketOwner",
        "Expires",
        "GrantFullControl",
        "GrantRead",
        "GrantReadACP",
        "GrantWriteACP",
        "Metadata",
        "ObjectLockLegalHoldStatus",
        "ObjectLockMode",
        "ObjectLockRetainUntilDate",
        "RequestPayer",
        "ServerSideEncryption",
        "StorageClass",
        "SSECustomerAlgorithm",
        "SSECustomerKey",
        "SSECustomerKeyMD5",
        "SSEKMSKeyId",
        "SSEKMSEncryptionContext",
        "Tagging",
        "WebsiteRedirectLocation",
    }
)
ALLOWED_UPLOAD = _SHARED
ALLOWED_DOWNLOAD = frozenset(
    {
        "ChecksumMode",
        "VersionId",
        "SSECustomerAlgorithm",
        "SSECustomerKey",
        "SSECustomerKeyMD5",
        "RequestPayer",
        "ExpectedBucketOwner",
    }
)
ALLOWED_COPY = _SHARED | {
    "CopySourceIfMatch",
    "CopySourceIfModifiedSince",
    "CopySourceIfNoneMatch",
    "CopySourceIfUnmodifiedSince",
    "CopySourceSSECustomerAlgorithm",
    "CopySourceSSECustomerKey",
    "CopySourceSSECustomerKeyMD5",
    "MetadataDirective",
    "TaggingDirective",
    "AnnotationDirective",
}
FULL_OBJECT_CHECKSUMS = frozenset(
    {
        "ChecksumType",
        "MpuObjectSize",
        "ChecksumCRC32",
        "ChecksumCRC32C",
        "ChecksumCRC64NVME",
        "ChecksumMD5",
        "ChecksumSHA1",
        "ChecksumSHA256",
        "ChecksumSHA512",
        "ChecksumXXHASH3",
        "ChecksumXXHASH64",
        "ChecksumXXHASH128",
    }
)
"""Upload arguments boto3 accepts that the engine refuses: it checksums the object itself."""
_OWN_CHECKSUM = (
    "ExtraArgs holds {name}; safes3's engine computes and verifies the CRC32C (or CRC32) of "
    "every part and of the whole object itself. Drop {name} (ChecksumAlgorithm='CRC32C' or "
    "'CRC32' picks the algorithm), or use safes3.upload() and compare UploadResult.checksum"
)
_ENGINE_CHECKSUMS = ("CRC32C", "CRC32")


def check_extra(
    extra: Mapping[str, Any] | None, allowed: frozenset[str], known: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """``ExtraArgs`` as boto3 checks them, then safes3's refusals; nothing is sent before.

    ``known`` names arguments boto3 accepts that the caller handles itself
    with a refusal of its own (e.g. full-object checksums on uploads).
    """
    given = dict(extra or {})
    for name in given:
        if name not in allowed and name not in known:
            raise ConfigurationError(
                f"Invalid extra_args key '{name}', must be one of: {', '.join(sorted(allowed))}"
            )
        if name == "ACL" or name.startswith("Grant"):
            raise ACLRefusedError(
                f"ExtraArgs holds {name}; safes3 refuses ACL and Grant* parameters. "
                "Grant access with IAM or bucket policies instead"
            )
    return given


def _explicit(config: Any, name: str) -> Any:
    """The value the caller set on a TransferConfig, or None when left at boto3's default.

    boto3 1.36+ keeps unset fields as ``UNSET_DEFAULT``; older versions
    store the defaults themselves, which then count as set.
    """
    unset = getattr(type(config), "UNSET_DEFAULT", None)
    value = vars(config).get(name, unset)
    return None if value is unset or value is None else value


def settings_for(
    config: Any, *, size: int | None = None, checksum: str | None = None
) -> TransferSettings:
    """The engine's settings for a boto3 ``TransferConfig`` (None: the engine's defaults).

    ``multipart_chunksize`` sets the part (and range) size, clamped to S3's 5 MiB-5 GiB
    as s3transfer does; ``max_concurrency`` the parts in flight (1 when
    ``use_threads`` is False, at most 64); ``num_download_attempts`` the tries
    of each part or range (at most 20).  A known ``size`` under
    ``multipart_threshold`` goes up as one PutObject.  ``max_bandwidth`` is
    refused: the engine does not throttle.
    """
    given: dict[str, Any] = {}
    if checksum is not None:
        given["checksum_algorithm"] = checksum
    if config is None:
        return TransferSettings(**given)
    if _explicit(config, "max_bandwidth") is not None:
        raise ConfigurationError(
            "TransferConfig(max_bandwidth=...) is not supported: safes3's engine does not "
            "throttle. Drop max_bandwidth, or lower max_concurrency"
        )
    chunk = _explicit(config, "multipart_chunksize")
    if chunk is not None:
        given["part_size"] = given["range_size"] = min(max(int(chunk), MIN_PART), MAX_PART)
    threads = _explicit(config, "use_threads")
    concurrency = _explicit(config, "max_request_concurrency") or _explicit(
        config, "max_concurrency"
    )
    if threads is False:
        given["max_concurrency"] = 1
    elif concurrency is not None:
        given["max_concurrency"] = min(max(int(concurrency), 1), 64)
    attempts = _explicit(config, "num_download_attempts")
    if attempts is not None:
        given["max_attempts"] = min(max(int(attempts), 1), 20)
    threshold = _explicit(config, "multipart_threshold")
    if size is not None and threshold is not None and size < int(threshold):
        given["part_size"] = max(given.get("part_size", MIN_PART), min(size + 1, MAX_PART))
    return TransferSettings(**given)


def progress_for(callback: Callable[[int], Any] | None) -> Callable[[int, int | None], None] | None:
    """The engine's ``progress(done, total)`` as boto3's ``Callback(bytes_since_last_call)``.

    Only growth is reported, so a copy that restarts as a streamed one after
    the store refused the server-side copy still sums to the size.
    """
    if callback is None:
        return None
    last = 0

    def progress(done: int, _total: int | None) -> None:
        nonlocal last
        if done > last:
            step, last = done - last, done
            callback(step)

    return progress


def _root_client_error(exc: BaseException) -> ClientError | None:
    seen: set[int] = set()
    item: BaseException | None = exc
    while item is not None and id(item) not in seen:
        if isinstance(item, ClientError):
            return item
        seen.add(id(item))
        item = item.__cause__ or item.__context__
    return None


def as_client_error(exc: TransferError) -> TransferError:
    """A store's error answer behind ``exc`` as a :class:`TransferClientError`, else ``exc``."""
    if isinstance(exc, IntegrityError | TransferClientError):
        return exc
    cause = _root_client_error(exc)
    if cause is None:
        return exc
    return TransferClientError(f"{exc} ({cause})", cause.response, cause.operation_name)


def upload_extra(
    extra: Mapping[str, Any] | None, allowed: frozenset[str] = ALLOWED_UPLOAD
) -> tuple[dict[str, Any], str | None]:
    """Checked ``ExtraArgs`` for the engine, and the checksum algorithm they name (or None)."""
    given = check_extra(extra, allowed, FULL_OBJECT_CHECKSUMS)
    for name in FULL_OBJECT_CHECKSUMS:
        if name in given:
            raise ConfigurationError(_OWN_CHECKSUM.format(name=name))
    algorithm = given.pop("ChecksumAlgorithm", None)
    if algorithm is not None and str(algorithm).upper() not in _ENGINE_CHECKSUMS:
        raise ConfigurationError(
            f"ExtraArgs holds ChecksumAlgorithm={algorithm!r}; safes3's engine checksums parts "
            "with CRC32C or CRC32: pass one of those, or drop it"
        )
    return given, None if algorithm is None else str(algorithm).upper()


def _send(
    s3: Any, source: Any, bucket: str, key: str, extra: Any, callback: Any, config: Any
) -> None:
    given, checksum = upload_extra(extra)
    size = os.path.getsize(source) if isinstance(source, str | os.PathLike) else remaining(source)
    settings = settings_for(config, size=size, checksum=checksum)
    try:
        upload(
            s3,
            source,
            bucket,
            key,
            settings=settings,
            progress=progress_for(callback),
            extra_args=given,
        )
    except TransferError as exc:
        if isinstance(exc, UploadFailedError):
            raise
        raise UploadFailedError(f"Failed to upload to {bucket}/{key}: {exc}") from exc


def _fetch(
    s3: Any, bucket: str, key: str, dest: Any, extra: Any, callback: Any, config: Any
) -> None:
    given = check_extra(extra, ALLOWED_DOWNLOAD)
    given.pop("ChecksumMode", None)
    try:
        download(
            s3,
            bucket,
            key,
            dest,
            settings=settings_for(config),
            progress=progress_for(callback),
            extra_args=given,
        )
    except TransferError as exc:
        converted = as_client_error(exc)
        if converted is exc:
            raise
        raise converted from exc


def upload_file(
    self: Any,
    Filename: str | os.PathLike[str],
    Bucket: str,
    Key: str,
    ExtraArgs: Mapping[str, Any] | None = None,
    Callback: Callable[[int], Any] | None = None,
    Config: Any = None,
) -> None:
    """boto3's ``upload_file``, run by :func:`safes3.upload` (see docs/transfers.md)."""
    _send(self, os.fspath(Filename), Bucket, Key, ExtraArgs, Callback, Config)


def upload_fileobj(
    self: Any,
    Fileobj: Any,
    Bucket: str,
    Key: str,
    ExtraArgs: Mapping[str, Any] | None = None,
    Callback: Callable[[int], Any] | None = None,
    Config: Any = None,
) -> None:
    """boto3's ``upload_fileobj``, run by :func:`safes3.upload` (see docs/transfers.md)."""
    if not hasattr(Fileobj, "read"):
        raise ConfigurationError("Fileobj must implement read")
    _send(self, Fileobj, Bucket, Key, ExtraArgs, Callback, Config)


def download_file(
    self: Any,
    Bucket: str,
    Key: str,
    Filename: str | os.PathLike[str],
    ExtraArgs: Mapping[str, Any] | None = None,
    Callback: Callable[[int], Any] | None = None,
    Config: Any = None,
) -> None:
    """boto3's ``download_file``: written under a temporary name, renamed once verified."""
    _fetch(self, Bucket, Key, os.fspath(Filename), ExtraArgs, Callback, Config)


def download_fileobj(
    self: Any,
    Bucket: str,
    Key: str,
    Fileobj: BinaryIO,
    ExtraArgs: Mapping[str, Any] | None = None,
    Callback: Callable[[int], Any] | None = None,
    Config: Any = None,
) -> None:
    """boto3's ``download_fileobj``: written in order, so any writable stream will do."""
    if not hasattr(Fileobj, "write"):
        raise ConfigurationError("Fileobj must implement write")
    _fetch(self, Bucket, Key, Fileobj, ExtraArgs, Callback, Config)


def transfer_methods() -> dict[str, Callable[..., Any]]:
    """The five methods to install on a guarded S3 client class."""
    from safes3._transfer._managedcopy import copy

    methods: dict[str, Callable[..., Any]] = {
        "upload_file": upload_file,
        "upload_fileobj": upload_fileobj,
        "download_file": download_file,
        "download_fileobj": download_fileobj,
        "copy": copy,
    }
    for method in methods.values():
        method._safes3_engine = True  # type: ignore[attr-defined]
    return methods
