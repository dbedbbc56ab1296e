"""Listing, paths and deletes of the ``safes3://`` filesystem.

Listings use ListObjectsV2 only, never HeadObject: listing and deleting
never carry an SSE-C key, so a process that cannot resolve the key (a Dask
driver planning a job) can still list.  Directories are key prefixes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from fsspec.spec import AbstractFileSystem

from safes3._boundary import boundary
from safes3._exceptions import ConfigurationError, SafeS3Error, TransferError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["Listing"]

_DELETE_BATCH = 1000


_FSSPEC_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)
"""What fsspec's callers catch: a missing key, a refusal, a local path of the wrong kind."""


class Listing(AbstractFileSystem):  # type: ignore[misc]
    """The metadata half of :class:`safes3._filesystem._fs.SafeS3FileSystem`."""

    def _lister(self) -> S3Client:
        raise NotImplementedError

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

    @contextlib.contextmanager
    def guarded(self, path: str) -> Iterator[None]:
        """Store answers as :meth:`translate` says, other foreign errors as TransferError.

        The ``OSError`` subclasses fsspec callers catch pass as they are.
        """
        with boundary(
            path,
            into=TransferError,
            answers=lambda _, exc: self.translate(exc, path),
            passes=_FSSPEC_ERRORS,
        ):
            yield

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
        with self.guarded(f"{bucket}/{prefix}"):
            yield from paginator.paginate(Bucket=bucket, Prefix=prefix, **extra)

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
            with self.guarded(bucket):
                self._lister().head_bucket(Bucket=bucket)
            return {"name": bucket, "size": 0, "type": "directory"}
        lister = self._lister()
        with self.guarded(path):
            # An object named exactly ``key`` sorts first among the keys starting with it.
            exact = lister.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
            for item in exact.get("Contents", []):
                if item["Key"] == key:
                    return self._file_entry(bucket, item)
            below = lister.list_objects_v2(Bucket=bucket, Prefix=f"{key}/", MaxKeys=1)
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
        with self.guarded(f"{bucket}/{keys[0]}"):
            answer = self._lister().delete_objects(
                Bucket=bucket, Delete={"Objects": objects, "Quiet": True}
            )
        errors = answer.get("Errors") or []
        if errors:
            listed = ", ".join(f"{e.get('Key')} ({e.get('Code')})" for e in errors[:5])
            raise TransferError(
                f"{len(errors)} of {len(keys)} objects in {bucket} were not deleted: {listed}"
            )
