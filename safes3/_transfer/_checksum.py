"""Part checksums: the algorithm, combining part CRCs, and S3's composite form.

One CRC per part is computed once and reused for the header, the completion,
the journal and the final verification, so the algorithm's speed is most of
the client's CPU per GiB beyond TLS.  CRC32C through awscrt (the optional
``safes3[fast]`` extra) runs several times faster than zlib's CRC32 and
releases the GIL; CRC32 through zlib is the fallback that needs nothing.
Both are reflected CRCs, so one GF(2) combine serves both.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal, cast

from safes3._exceptions import ConfigurationError

try:
    from awscrt import checksums as _crt
except ImportError:  # pragma: no cover - depends on the environment
    _crt = None  # type: ignore[assignment]

__all__ = [
    "ALGORITHM_NAMES",
    "CRC32",
    "CRC32C",
    "Algorithm",
    "AlgorithmName",
    "Buffer",
    "b64",
    "by_name",
    "fast_available",
    "resolve",
    "unb64",
]

Buffer = bytes | bytearray | memoryview
AlgorithmName = Literal["CRC32", "CRC32C"]
ALGORITHM_NAMES: tuple[AlgorithmName, ...] = ("CRC32", "CRC32C")
INSTALL_HINT = "pip install 'safes3[fast]'"


@dataclass(frozen=True)
class Algorithm:
    """A CRC as S3 names it: ``name`` is what ``ChecksumAlgorithm`` takes."""

    name: AlgorithmName
    polynomial: int
    """The reflected polynomial, for :meth:`combine`."""
    _update: Callable[[Buffer, int], int] = field(repr=False, compare=False)

    @property
    def param(self) -> str:
        """The request/response member: ``ChecksumCRC32`` or ``ChecksumCRC32C``."""
        return f"Checksum{self.name}"

    def compute(self, data: Buffer, value: int = 0) -> int:
        """The CRC of ``data``, continuing from ``value``."""
        return self._update(data, value)

    def combine(self, crc_a: int, crc_b: int, len_b: int) -> int:
        """The CRC of ``a + b`` from the CRCs of ``a`` and ``b`` (zlib's crc32_combine).

        The shift operator for ``len_b`` zero bytes is cached, so combining
        many equal-sized parts costs 32 XORs each.
        """
        if len_b <= 0:
            return crc_a
        return _apply(_zeros_operator(self.polynomial, len_b), crc_a) ^ crc_b

    def composite(self, part_crcs: Iterable[int]) -> str:
        """S3's COMPOSITE multipart checksum: the CRC of the concatenated part CRCs, ``-N``."""
        raw = [c.to_bytes(4, "big") for c in part_crcs]
        return f"{b64(self.compute(b''.join(raw)))}-{len(raw)}"


def _crc32c(data: Buffer, value: int) -> int:
    if _crt is None:
        raise ConfigurationError(f"CRC32C needs the awscrt package: {INSTALL_HINT}")
    # awscrt reads any buffer (bytearray, memoryview) without a copy; its stubs say bytes.
    return _crt.crc32c(cast(bytes, data), value)


CRC32 = Algorithm("CRC32", 0xEDB88320, zlib.crc32)
CRC32C = Algorithm("CRC32C", 0x82F63B78, _crc32c)


def fast_available() -> bool:
    """Whether awscrt (and so a fast CRC32C) can be used."""
    return _crt is not None


def by_name(name: str) -> Algorithm:
    """The algorithm S3 calls ``name``; a ConfigurationError when it cannot run here."""
    if name == "CRC32":
        return CRC32
    if name == "CRC32C":
        if not fast_available():
            raise ConfigurationError(
                f"the CRC32C checksum needs the awscrt package, which is not installed: "
                f"{INSTALL_HINT} (or use checksum_algorithm='CRC32')"
            )
        return CRC32C
    raise ConfigurationError(
        f"checksum_algorithm must be 'auto', 'CRC32' or 'CRC32C', got {name!r}"
    )


def resolve(setting: str) -> Algorithm:
    """``"auto"`` is CRC32C when awscrt is installed, else CRC32; other names as given."""
    if setting == "auto":
        return CRC32C if fast_available() else CRC32
    return by_name(setting)


def b64(value: int) -> str:
    """The base64 big-endian form S3 uses in ``x-amz-checksum-crc32`` and ``-crc32c``."""
    return base64.b64encode(value.to_bytes(4, "big")).decode()


def unb64(text: str) -> int:
    return int.from_bytes(base64.b64decode(text), "big")


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
def _zeros_operator(polynomial: int, nbytes: int) -> tuple[int, ...]:
    op = (polynomial, *(1 << n for n in range(31)))
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
