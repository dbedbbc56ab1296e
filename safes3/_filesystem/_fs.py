"""``safes3://``: an fsspec filesystem on safes3's guarded client and transfer engine.

Registered through the ``fsspec.specs`` entry point, so pandas, pyarrow and
Dask find it from a URL alone, in every process, with no import of safes3
in the caller's code.  Its keyword arguments are the secret-free
description of :mod:`safes3._filesystem._options`; everything it sends goes
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
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from safes3._exceptions import ACLRefusedError, ConfigurationError, TransferError
from safes3._filesystem._file import SafeS3File
from safes3._filesystem._listing import Listing
from safes3._filesystem._options import FSOptions
from safes3._transfer._download import download
from safes3._transfer._upload import upload

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["SafeS3FileSystem"]

_FSSPEC_OPTIONS = frozenset(
    {"skip_instance_cache", "use_listings_cache", "listings_expiry_time", "max_paths"}
)
_BLOCK = 8 << 20


def _refuse_acl(kwargs: dict[str, Any]) -> None:
    for name in kwargs:
        lowered = name.lower()
        if lowered == "acl" or lowered.startswith("grant"):
            raise ACLRefusedError(
                f"{name}= is refused: safes3 never changes ACLs. Grant access with IAM or "
                "bucket policies instead"
            )


class SafeS3FileSystem(Listing):
    """An fsspec filesystem for ``safes3://bucket/key`` URLs.

    Keyword arguments are those of :class:`safes3._filesystem._options.FSOptions`;
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
            with self.guarded(path):
                return run()
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
