"""Turn any upload source into whole parts, read into reusable buffers.

Pipes and sockets return fewer bytes than asked; iterators yield chunks of
any size.  :class:`PartReader` hides both: :meth:`PartReader.fill` keeps
reading until the buffer is full or the source ends, so a short read never
becomes a short part, and nothing is read beyond the buffer it fills (at most
one small chunk, or one iterator item, is held over).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO, Protocol, Union

from safes3._core._frozen import PartBody
from safes3._exceptions import TransferError

__all__ = ["PartBody", "PartReader", "Readable", "Source", "remaining"]

_CHUNK = 1 << 20
_NONBLOCKING = "the source is non-blocking and had no data; pass a blocking stream"


class Readable(Protocol):
    """Anything with ``read(n)`` returning bytes (pipes, sockets' makefile, custom streams)."""

    def read(self, n: int, /) -> bytes: ...


Source = Union[
    str, "os.PathLike[str]", bytes, bytearray, memoryview, BinaryIO, Readable, Iterable[bytes]
]


class PartReader:
    """Reads a source sequentially into caller-owned buffers.

    ``size`` is the number of bytes the source will give when known (from
    the file's size, or the caller), else None.  When it is known, reading
    stops there and a source that ends early is an error.
    """

    def __init__(self, source: Any, size: int | None = None) -> None:
        self._owned: BinaryIO | None = None
        self._stream: Any = None
        self._items: Iterator[bytes] | None = None
        self._held = memoryview(b"")
        detected: int | None = None
        if isinstance(source, str | os.PathLike):
            self._owned = open(source, "rb", buffering=0)  # noqa: SIM115
            self._stream = self._owned
            detected = os.fstat(self._owned.fileno()).st_size
        elif isinstance(source, bytes | bytearray | memoryview):
            self._stream = io.BytesIO(source)
            detected = len(source)
        elif hasattr(source, "read"):
            self._stream = source
            detected = remaining(source)
        elif isinstance(source, Iterable):
            self._items = iter(source)
        else:
            raise TransferError(
                f"cannot upload from a {type(source).__name__}: pass a path, bytes, a binary "
                "file or stream, or an iterable of bytes"
            )
        if size is not None and (not isinstance(size, int) or size < 0):
            raise TransferError(f"size must be a non-negative int, got {size!r}")
        self.size: int | None = size if size is not None else detected
        self.consumed = 0
        self._readinto = getattr(self._stream, "readinto", None)

    def close(self) -> None:
        if self._owned is not None:
            self._owned.close()

    def __enter__(self) -> PartReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def fill(self, buffer: memoryview) -> int:
        """Fill ``buffer`` from the source; fewer bytes only at the end of the source."""
        return self.fill_checked(buffer, None)[0]

    def fill_checked(
        self, buffer: memoryview, crc: Callable[[memoryview, int], int] | None
    ) -> tuple[int, int]:
        """:meth:`fill`, also returning ``crc`` of the bytes read (0 when ``crc`` is None).

        The CRC runs over each piece right after it is read, while the piece
        is still in the CPU cache, instead of over the whole part afterwards
        from memory; pieces are at most 1 MiB.
        """
        want = len(buffer)
        if self.size is not None:
            want = min(want, self.size - self.consumed)
        got = value = 0
        while got < want:
            piece = buffer[got : min(want, got + _CHUNK)] if crc else buffer[got:want]
            n = self._read_some(piece)
            if n == 0:
                break
            if crc:
                value = crc(piece[:n], value)
            got += n
        self.consumed += got
        if got < want and self.size is not None:
            raise TransferError(
                f"the source ended after {self.consumed} bytes, but its size was given or "
                f"found to be {self.size}; the source changed while it was being uploaded"
            )
        return got, value

    def _read_some(self, target: memoryview) -> int:
        if self._items is not None:
            return self._from_items(target)
        if self._readinto is not None:
            n = self._readinto(target)
            if n is None:
                raise TransferError(
                    "the source is non-blocking and had no data; pass a blocking stream"
                )
            return int(n)
        chunk = self._stream.read(min(len(target), _CHUNK))
        if chunk is None:
            raise TransferError(
                "the source is non-blocking and had no data; pass a blocking stream"
            )
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise TransferError(
                f"the source's read() returned {type(chunk).__name__}, not bytes; "
                "open files in binary mode ('rb')"
            )
        target[: len(chunk)] = chunk
        return len(chunk)

    def _from_items(self, target: memoryview) -> int:
        assert self._items is not None
        while not self._held:
            item = next(self._items, None)
            if item is None:
                return 0
            if not isinstance(item, bytes | bytearray | memoryview):
                raise TransferError(f"the source iterator yielded {type(item).__name__}, not bytes")
            self._held = memoryview(item).cast("B")
        n = min(len(target), len(self._held))
        target[:n] = self._held[:n]
        self._held = self._held[n:]
        return n


def remaining(stream: Any) -> int | None:
    """Bytes left in a seekable stream, or None (non-seekable or unknown)."""
    try:
        if not stream.seekable():
            return None
        here = stream.tell()
        end = stream.seek(0, io.SEEK_END)
        stream.seek(here)
    except (AttributeError, OSError, ValueError):
        return None
    return max(0, int(end) - int(here))
