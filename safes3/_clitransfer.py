"""The CLI's one door to the transfer engine (streaming, multipart, progress)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import IO, Any, BinaryIO, cast

from safes3._download import download as _download
from safes3._upload import upload as _upload

__all__ = ["Progress", "download", "upload"]

Progress = Callable[[int, "int | None"], None]


def upload(
    s3: Any,
    source: IO[bytes],
    bucket: str,
    key: str,
    *,
    size: int | None = None,
    progress: Progress | None = None,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Stream ``source`` to ``s3://bucket/key`` (encrypted by the client's policy)."""
    _upload(s3, source, bucket, key, size=size, progress=progress, extra_args=extra)


def download(
    s3: Any,
    bucket: str,
    key: str,
    dest: IO[bytes],
    *,
    progress: Progress | None = None,
) -> None:
    """Stream ``s3://bucket/key`` into ``dest``."""
    _download(s3, bucket, key, cast(BinaryIO, dest), progress=progress)
