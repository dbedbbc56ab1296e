"""The CLI's one door to the transfer engine (streaming, multipart, progress)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

from safes3._transfer._download import download as _download
from safes3._transfer._upload import upload as _upload

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
    dest: IO[bytes] | Path,
    *,
    progress: Progress | None = None,
) -> None:
    """Fetch ``s3://bucket/key`` into a file or a stream, verified.

    A path gets the verified file or nothing at all: the bytes are written
    into a file with no name (``O_TMPFILE``; elsewhere a hidden temporary
    file removed on any failure, Ctrl-C included) that is renamed over the
    path only after every check passed.  A stream (stdout) gets the bytes in
    order as they are checked range by range; a failure then exits non-zero
    after what was already written.
    """
    target: Path | BinaryIO = dest if isinstance(dest, Path) else cast(BinaryIO, dest)
    _download(s3, bucket, key, target, progress=progress)
