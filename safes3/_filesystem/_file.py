"""Files of the ``safes3://`` filesystem: ranged reads, writes streamed into the engine.

Reading fetches the byte ranges fsspec's buffer asks for with ranged
GetObject calls on the guarded client (the SSE-C key goes along), each
pinned to the ETag the object had when it was opened, so a file replaced
mid-read fails instead of mixing two versions.  A large range (pyarrow
asks for whole column chunks) is split into 8 MiB pieces fetched in
parallel, as many at once as the engine's ``max_concurrency``.

Writing hands each buffered block to :func:`safes3.upload`, running in a
thread of its own on an iterator over a small bounded queue: the engine
sends parts in parallel, checksums them, completes the upload and proves the
stored object's encryption.  Closing waits for that proof.  Leaving a
``with`` block on an exception aborts instead of storing a partial object.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import TYPE_CHECKING, Any

from fsspec.spec import AbstractBufferedFile

from safes3._exceptions import TransferError
from safes3._transfer._upload import UploadResult, upload

if TYPE_CHECKING:
    from safes3._filesystem._fs import SafeS3FileSystem

__all__ = ["SafeS3File"]

_QUEUE_BLOCKS = 2
_PIECE = 8 << 20
"""Reads larger than two pieces are fetched as pieces in parallel."""
_POLL_SECONDS = 0.5


class _Aborted(Exception):
    """The writer gave up: the engine must not complete the upload."""


class _Writer:
    """One :func:`safes3.upload` fed block by block from the caller's thread."""

    def __init__(self, fs: SafeS3FileSystem, bucket: str, key: str) -> None:
        self._queue: queue.Queue[bytes | BaseException | None] = queue.Queue(_QUEUE_BLOCKS)
        self._error: BaseException | None = None
        self.result: UploadResult | None = None
        client = fs.client()
        settings = fs.options.transfer_settings()

        def run() -> None:
            try:
                self.result = upload(client, self._blocks(), bucket, key, settings=settings)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                self._error = exc

        self._thread = threading.Thread(target=run, name=f"safes3-write-{key}", daemon=True)
        self._thread.start()

    def _blocks(self) -> Iterator[bytes]:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def send(self, item: bytes | BaseException | None) -> None:
        """Queue ``item``; raises the engine's error if it stopped reading."""
        while True:
            self._raise_if_failed()
            try:
                self._queue.put(item, timeout=_POLL_SECONDS)
                return
            except queue.Full:
                continue

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error
        if not self._thread.is_alive() and self.result is None:
            raise TransferError("the upload thread stopped without a result")

    def finish(self) -> UploadResult:
        self.send(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self.result is not None
        return self.result

    def abort(self) -> None:
        """Make the engine fail (it then aborts the multipart upload) and wait for it."""
        if self._thread.is_alive():
            with contextlib.suppress(BaseException):  # the engine may have stopped already
                self.send(_Aborted("the file was discarded before it was closed"))
            self._thread.join()


class SafeS3File(AbstractBufferedFile):  # type: ignore[misc]
    """A file of a ``safes3://`` filesystem (opened through ``fs.open``)."""

    fs: SafeS3FileSystem

    def __init__(self, fs: SafeS3FileSystem, path: str, mode: str, **kwargs: Any) -> None:
        self._writer: _Writer | None = None
        self.upload_result: UploadResult | None = None
        super().__init__(fs, path, mode, **kwargs)
        self.bucket, self.key = fs.split_path(self.path)

    # ---- reading --------------------------------------------------------------------

    def _fetch_range(self, start: int, end: int) -> bytes:
        end = min(end, self.size)
        if start >= end:
            return b""
        pieces = range(start, end, _PIECE)
        workers = min(len(pieces), self.fs.options.transfer_settings().max_concurrency)
        if workers < 2:
            return self._get(start, end)
        with ThreadPoolExecutor(workers, thread_name_prefix="safes3-read") as pool:
            found = pool.map(lambda at: self._get(at, min(at + _PIECE, end)), pieces)
            return b"".join(found)

    def _get(self, start: int, end: int) -> bytes:
        """One ranged GetObject, pinned to the ETag the object had when it was opened."""
        extra: dict[str, Any] = {}
        etag = (self.details or {}).get("ETag")
        if etag:
            extra["IfMatch"] = etag
        with self.fs.guarded(self.path):
            answer = self.fs.client().get_object(
                Bucket=self.bucket, Key=self.key, Range=f"bytes={start}-{end - 1}", **extra
            )
            data: bytes = answer["Body"].read()
        wanted = end - start
        if len(data) != wanted:
            raise TransferError(
                f"reading {self.path} bytes {start}-{end - 1}: the store sent {len(data)} "
                f"bytes, expected {wanted}"
            )
        return data

    # ---- writing --------------------------------------------------------------------

    def _initiate_upload(self) -> None:
        self._writer = _Writer(self.fs, self.bucket, self.key)

    def _upload_chunk(self, final: bool = False) -> bool:
        assert self._writer is not None
        assert self.buffer is not None
        block = self.buffer.getvalue()
        if block:
            self._writer.send(block)
        if final:
            self.upload_result = self._writer.finish()
            self.fs.invalidate_cache(self.path)
        return True

    def discard(self) -> None:
        """Drop what was written: nothing is stored, an open multipart upload is aborted."""
        if self._writer is not None:
            self._writer.abort()
            self._writer = None
        self.buffer = None
        self.closed = True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None and self.writable() and not self.closed:
            self.discard()
            return
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        try:
            super().close()
        except BaseException:
            if self._writer is not None:
                self._writer.abort()
            raise

    def __del__(self) -> None:
        # fsspec's __del__ would close, i.e. commit, a half-written file: abort instead.
        if not getattr(self, "closed", True) and getattr(self, "mode", "") != "rb":
            self.discard()
