"""A bounded hand-over from a download's ordered writes to an upload's reads.

Used by the streamed copy (:mod:`safes3._transfer._managedcopy`): one thread runs
:func:`safes3.download` into :meth:`Relay.write`, the caller's thread runs
:func:`safes3.upload` from :meth:`Relay.readinto`.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

from botocore.exceptions import ClientError

from safes3._exceptions import SafeS3Error, TransferError
from safes3._transfer._retry import describe

__all__ = ["Relay"]

_DEPTH = 2
"""Chunks (a download range each) held between the two sides."""


class Relay:
    """A download's in-order writes as an upload's source, a few chunks deep.

    The reader (the upload) gets the source's last bytes only once the
    download has returned, i.e. verified; if it failed, the reader raises
    its error instead, so the upload is aborted rather than completed.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.given = 0
        self.chunks: queue.Queue[bytes] = queue.Queue(_DEPTH)
        self.held = memoryview(b"")
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.closed = False

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        while True:
            if self.closed:
                raise TransferError("the copy's upload stopped; the source read was cancelled")
            try:
                self.chunks.put(chunk, timeout=0.2)
            except queue.Full:
                continue
            return len(chunk)

    def finish(self, error: BaseException | None) -> None:
        self.error = error
        self.done.set()

    def close(self) -> None:
        self.closed = True

    def read(self, n: int, /) -> bytes:
        buffer = bytearray(n)
        got = self.readinto(memoryview(buffer))
        return bytes(buffer[:got])

    def readinto(self, target: memoryview) -> int:
        while not self.held:
            if self.given >= self.size:
                return 0
            try:
                self.held = memoryview(self.chunks.get(timeout=0.2))
            except queue.Empty:
                if self.done.is_set() and self.chunks.empty():
                    self._raise_failure()
        n = min(len(target), len(self.held))
        if self.given + n >= self.size:
            self.done.wait()
            self._raise_failure(only_error=True)
        target[:n] = self.held[:n]
        self.held = self.held[n:]
        self.given += n
        return n

    def _raise_failure(self, *, only_error: bool = False) -> None:
        if self.error is not None:
            if isinstance(self.error, SafeS3Error | ClientError):
                raise self.error
            raise TransferError(f"reading the copy source failed: {describe(self.error)}") from (
                self.error
            )
        if not only_error:
            raise TransferError(f"the copy source ended after {self.given} of {self.size} bytes")
