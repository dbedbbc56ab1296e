"""``safes3://``: an fsspec filesystem on safes3's guarded client and transfer engine.

Registered through the ``fsspec.specs`` entry point, so pandas, pyarrow and
Dask find it from a URL alone, in every process, with no import of safes3
in the caller's code.  Its keyword arguments are the secret-free
description of :mod:`safes3._fsspec_options`; everything it sends goes
through a client made by :class:`safes3.Session`, so every write is
encrypted as configured and proven, TLS is verified with the configured CA,
ACLs are refused and credentials are temporary and refreshed.

Paths are ``bucket/key``.  Directories are key prefixes: ``mkdir`` does
nothing (buckets are made by whoever administers the store), and a
directory exists while an object lies under it.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from fsspec.spec import AbstractFileSystem

from safes3._download import download
from safes3._exceptions import ACLRefusedError, ConfigurationError, SafeS3Error, TransferError
from safes3._fsspec_file import SafeS3File
from safes3._fsspec_options import FSOptions
from safes3._upload import upload

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["SafeS3FileSystem"]

_FSSPEC_OPTIONS = frozenset(
    {"skip_instance_cache", "use_listings_cache", "listings_expiry_time", "max_paths"}
)
_BLOCK = 8 << 20
_DELETE_BATCH = 1000


def _refuse_acl(kwargs: dict[str, Any]) -> None:
    for name in kwargs:
        lowered = name.lower()
        if lowered == "acl" or lowered.startswith("grant"):
            raise ACLRefusedError(
                f"{name}= is refused: safes3 never changes ACLs. Grant access with IAM or "
                "bucket policies instead"
            )


class SafeS3FileSystem(AbstractFileSystem):  # type: ignore[misc]
    """An fsspec filesystem for ``safes3://bucket/key`` URLs.

    Keyword arguments are those of :class:`safes3._fsspec_options.FSOptions`;
    ``safes3.fsspec_storage_options(config, ...)`` builds them from a
    :class:`safes3.Config`.  Construction checks them (HTTPS endpoint, CA,
    encryption description) without touching the network; the role is
    assumed and the SSE-C key resolved at the first call that needs them.
    """

    protocol = ("safes3",)
    root_marker = ""

    def __init__(self, **kwargs: Any) -> None:
        fsspec_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in _FSSPEC_OPTIONS}
        _refuse_acl(kwargs)
        self.options = FSOptions.from_kwargs(kwargs)
        super().__init__(**fsspec_kwargs)

    def __repr__(self) -> str:
        return f"SafeS3FileSystem({self.options.describe()})"

    # ---- clients ------------------------------------------------------------------------

    def client(self) -> S3Client:
        """The guarded client for reads and writes (resolves the SSE-C key first)."""
        return self.options.session_client()

    def _lister(self) -> S3Client:
        return self.options.listing_client()

    @staticmethod
    def translate(exc: ClientError, path: str) -> OSError | SafeS3Error:
        """A store error as the exception fsspec callers expect."""
        error = exc.response.get("Error") or {}
        code = str(error.get("Code") or "")
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in {"NoSuchKey", "NoSuchBucket", "404", "NotFound"} or status == 404:
            return FileNotFoundError(path)
        if code in {"AccessDenied", "403"} or status == 403:
            return PermissionError(f"{path}: access denied by the store")
        return TransferError(f"{path}: the store answered HTTP {status} {code}".rstrip())

    # ---- paths --------------------------------------------------------------------------

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        text = str(path)
        if text.startswith("safes3://"):
            text = text[len("safes3://") :]
        return text.rstrip("/")

    def split_path(self, path: str) -> tuple[str, str]:
        bucket, _, key = self._strip_protocol(path).partition("/")
        if not bucket:
            raise ConfigurationError(f"{path!r} names no bucket: use safes3://bucket/key")
        return bucket, key

    # ---- listing ------------------------------------------------------------------------

    def _pages(self, bucket: str, prefix: str, delimiter: str | None) -> Iterator[dict[str, Any]]:
        extra: dict[str, Any] = {"Delimiter": delimiter} if delimiter else {}
        paginator: Any = self._lister().get_paginator("list_objects_v2")
        try:
            yield from paginator.paginate(Bucket=bucket, Prefix=prefix, **extra)
        except ClientError as exc:
            raise self.translate(exc, f"{bucket}/{prefix}") from exc

    @staticmethod
    def _file_entry(bucket: str, item: Any) -> dict[str, Any]:
        return {
            "name": f"{bucket}/{item['Key']}",
            "size": int(item["Size"]),
            "type": "file",
            "ETag": item.get("ETag"),
            "LastModified": item.get("LastModified"),
        }

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        path = self._strip_protocol(path)
        if not path:
            buckets = self._lister().list_buckets().get("Buckets", [])
            found = [{"name": b["Name"], "size": 0, "type": "directory"} for b in buckets]
        else:
            bucket, key = self.split_path(path)
            prefix = f"{key}/" if key else ""
            found = []
            for page in self._pages(bucket, prefix, "/"):
                for common in page.get("CommonPrefixes", []):
                    name = f"{bucket}/{common['Prefix'].rstrip('/')}"
                    found.append({"name": name, "size": 0, "type": "directory"})
                found.extend(
                    self._file_entry(bucket, item)
                    for item in page.get("Contents", [])
                    if item["Key"] != prefix
                )
            if not found:
                found = [self.info(path)]
            found.sort(key=lambda entry: str(entry["name"]))
        return found if detail else [entry["name"] for entry in found]

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        path = self._strip_protocol(path)
        if not path:
            return {"name": "", "size": 0, "type": "directory"}
        bucket, key = self.split_path(path)
        if not key:
            try:
                self._lister().head_bucket(Bucket=bucket)
            except ClientError as exc:
                raise self.translate(exc, bucket) from exc
            return {"name": bucket, "size": 0, "type": "directory"}
        lister = self._lister()
        try:
            # An object named exactly ``key`` sorts first among the keys starting with it.
            exact = lister.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
            for item in exact.get("Contents", []):
                if item["Key"] == key:
                    return self._file_entry(bucket, item)
            below = lister.list_objects_v2(Bucket=bucket, Prefix=f"{key}/", MaxKeys=1)
        except ClientError as exc:
            raise self.translate(exc, path) from exc
        if below.get("Contents"):
            return {"name": path, "size": 0, "type": "directory"}
        raise FileNotFoundError(path)

    def find(
        self,
        path: str,
        maxdepth: int | None = None,
        withdirs: bool = False,
        detail: bool = False,
        **kwargs: Any,
    ) -> Any:
        if maxdepth is not None:
            return super().find(path, maxdepth=maxdepth, withdirs=withdirs, detail=detail)
        path = self._strip_protocol(path)
        bucket, key = self.split_path(path)
        found: dict[str, dict[str, Any]] = {}
        for page in self._pages(bucket, f"{key}/" if key else "", None):
            for item in page.get("Contents", []):
                entry = self._file_entry(bucket, item)
                found[entry["name"]] = entry
                if withdirs:
                    self._add_parents(found, entry["name"], path)
        if not found and key:
            try:
                entry = self.info(path)
            except FileNotFoundError:
                entry = {}
            if entry.get("type") == "file":
                found[path] = entry
        names = sorted(found)
        return {n: found[n] for n in names} if detail else names

    @staticmethod
    def _add_parents(found: dict[str, dict[str, Any]], name: str, root: str) -> None:
        parent = name.rsplit("/", 1)[0]
        while len(parent) > len(root) and parent not in found:
            found[parent] = {"name": parent, "size": 0, "type": "directory"}
            parent = parent.rsplit("/", 1)[0]

    def invalidate_cache(self, path: str | None = None) -> None:
        """Nothing is cached: every listing asks the store."""

    # ---- directories and permissions ----------------------------------------------------

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        """Nothing to do: a prefix exists once an object is written under it."""
        _refuse_acl(kwargs)

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        """Nothing to do (see :meth:`mkdir`)."""

    def rmdir(self, path: str) -> None:
        """Nothing to do: a prefix goes away with its last object."""

    def chmod(self, path: str, acl: str, **kwargs: Any) -> None:
        _refuse_acl({"acl": acl})

    # ---- deleting -----------------------------------------------------------------------

    def rm_file(self, path: str) -> None:
        self.rm(path)

    def _rm(self, path: str) -> None:
        self.rm(path)

    def rm(self, path: Any, recursive: bool = False, maxdepth: int | None = None) -> None:
        paths = self.expand_path(path, recursive=recursive, maxdepth=maxdepth)
        by_bucket: dict[str, list[str]] = {}
        for name in paths:
            bucket, key = self.split_path(name)
            if key:
                by_bucket.setdefault(bucket, []).append(key)
        for bucket, keys in by_bucket.items():
            for start in range(0, len(keys), _DELETE_BATCH):
                self._delete(bucket, keys[start : start + _DELETE_BATCH])

    def _delete(self, bucket: str, keys: list[str]) -> None:
        objects: list[Any] = [{"Key": k} for k in keys]
        try:
            answer = self._lister().delete_objects(
                Bucket=bucket, Delete={"Objects": objects, "Quiet": True}
            )
        except ClientError as exc:
            raise self.translate(exc, f"{bucket}/{keys[0]}") from exc
        errors = answer.get("Errors") or []
        if errors:
            listed = ", ".join(f"{e.get('Key')} ({e.get('Code')})" for e in errors[:5])
            raise TransferError(
                f"{len(errors)} of {len(keys)} objects in {bucket} were not deleted: {listed}"
            )

    # ---- files --------------------------------------------------------------------------

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> SafeS3File:
        _refuse_acl(kwargs)
        if not autocommit:
            raise ConfigurationError(
                "safes3:// has no transactions (autocommit=False): each file is stored, "
                "verified, when it is closed"
            )
        if mode not in {"rb", "wb"}:
            raise ConfigurationError(f"safes3:// opens files 'rb' or 'wb', not {mode!r}")
        return SafeS3File(
            self,
            path,
            mode,
            block_size=block_size or _BLOCK,
            cache_options=cache_options,
            cache_type=kwargs.get("cache_type", "readahead"),
        )

    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        if start is not None or end is not None:
            with self.open(path, "rb") as f:
                size = f.size
                first = 0 if start is None else (start if start >= 0 else max(0, size + start))
                last = size if end is None else (end if end >= 0 else max(0, size + end))
                f.seek(first)
                data: bytes = f.read(max(0, last - first))
                return data
        bucket, key = self.split_path(path)
        out = io.BytesIO()
        self._transfer(path, lambda: download(self.client(), bucket, key, out, **self._engine()))
        return out.getvalue()

    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        _refuse_acl(kwargs)
        bucket, key = self.split_path(path)
        self._transfer(path, lambda: upload(self.client(), value, bucket, key, **self._engine()))

    def put_file(self, lpath: str, rpath: str, callback: Any = None, **kwargs: Any) -> None:
        _refuse_acl(kwargs)
        if self._local_is_dir(lpath):
            return
        bucket, key = self.split_path(rpath)
        self._transfer(rpath, lambda: upload(self.client(), lpath, bucket, key, **self._engine()))

    def get_file(self, rpath: str, lpath: str, callback: Any = None, **kwargs: Any) -> None:
        if self.isdir(rpath):
            return
        bucket, key = self.split_path(rpath)
        self._transfer(rpath, lambda: download(self.client(), bucket, key, lpath, **self._engine()))

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        """Copy by streaming through this process: stores refuse CopyObject with SSE headers."""
        bucket, key = self.split_path(path2)
        with self.open(path1, "rb") as source:
            self._transfer(
                path2, lambda: upload(self.client(), source, bucket, key, **self._engine())
            )

    def _engine(self) -> dict[str, Any]:
        return {"settings": self.options.transfer_settings()}

    def _transfer(self, path: str, run: Any) -> Any:
        try:
            return run()
        except ClientError as exc:
            raise self.translate(exc, path) from exc
        except BotoCoreError as exc:
            raise TransferError(f"{path}: {type(exc).__name__}") from exc
        except TransferError as exc:
            cause = exc.__cause__
            if isinstance(cause, ClientError):
                found = self.translate(cause, path)
                if isinstance(found, FileNotFoundError):
                    raise found from exc
            raise

    @staticmethod
    def _local_is_dir(lpath: str) -> bool:
        return os.path.isdir(lpath)

    def created(self, path: str) -> Any:
        return self.modified(path)

    def modified(self, path: str) -> Any:
        return self.info(path).get("LastModified")
