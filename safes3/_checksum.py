"""CRC32 helpers: the part checksum, combining part CRCs, and S3's composite form.

CRC32 (zlib) runs at several GB/s and every store that checks checksums at
all accepts it as a header, so one is computed per part, once, and reused for
the header, the completion, the journal and the final verification.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Iterable
from functools import lru_cache

__all__ = ["b64", "combine", "composite", "crc32", "unb64"]

_POLY = 0xEDB88320


def crc32(data: bytes | bytearray | memoryview, value: int = 0) -> int:
    return zlib.crc32(data, value)


def b64(value: int) -> str:
    """The base64 big-endian form S3 uses in ``x-amz-checksum-crc32``."""
    return base64.b64encode(value.to_bytes(4, "big")).decode()


def unb64(text: str) -> int:
    return int.from_bytes(base64.b64decode(text), "big")


def composite(part_crcs: Iterable[int]) -> str:
    """S3's COMPOSITE multipart checksum: CRC32 of the concatenated part CRCs, ``-N``."""
    raw = [c.to_bytes(4, "big") for c in part_crcs]
    return f"{b64(zlib.crc32(b''.join(raw)))}-{len(raw)}"


def combine(crc_a: int, crc_b: int, len_b: int) -> int:
    """CRC32 of ``a + b`` from the CRCs of ``a`` and ``b`` (zlib's crc32_combine).

    The shift operator for ``len_b`` zero bytes is cached, so combining many
    equal-sized parts costs 32 XORs each.
    """
    if len_b <= 0:
        return crc_a
    return _apply(_zeros_operator(len_b), crc_a) ^ crc_b


def _apply(matrix: tuple[int, ...], vector: int) -> int:
    total = 0
    index = 0
    while vector:
        if vector & 1:
            total ^= matrix[index]
        vector >>= 1
        index += 1
    return total


def _compose(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(_apply(a, column) for column in b)


@lru_cache(maxsize=64)
def _zeros_operator(nbytes: int) -> tuple[int, ...]:
    op = (_POLY, *(1 << n for n in range(31)))
    for _ in range(3):
        op = _compose(op, op)
    result: tuple[int, ...] | None = None
    while True:
        if nbytes & 1:
            result = op if result is None else _compose(op, result)
        nbytes >>= 1
        if not nbytes:
            break
        op = _compose(op, op)
    assert result is not None
    return result
