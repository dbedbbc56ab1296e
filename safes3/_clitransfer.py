"""The CLI's one door to the transfer engine (streaming, multipart, progress).

Until ``safes3.upload``/``safes3.download`` exist, the client's managed
``upload_fileobj``/``download_fileobj`` stand in; switching is a change to
the two function bodies here only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import IO, Any

__all__ = ["Progress", "download", "upload"]

Progress = Callable[[int, "int | None"], None]


def _counter(progress: Progress | None, total: int | None) -> Callable[[int], None] | None:
    if progress is None:
        return None
    done = 0
    lock = threading.Lock()

    def callback(amount: int) -> None:
        nonlocal done
        with lock:
            done += amount
            progress(done, total)

    return callback


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
    s3.upload_fileobj(
        source, bucket, key, ExtraArgs=dict(extra or {}) or None, Callback=_counter(progress, size)
    )


def download(
    s3: Any,
    bucket: str,
    key: str,
    dest: IO[bytes],
    *,
    size: int | None = None,
    progress: Progress | None = None,
) -> None:
    """Stream ``s3://bucket/key`` into ``dest``."""
    s3.download_fileobj(bucket, key, dest, Callback=_counter(progress, size))
