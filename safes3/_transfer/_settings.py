"""How managed transfers cut, parallelise and retry: frozen, keyword-only, validated."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from safes3._exceptions import ConfigurationError
from safes3._transfer import _checksum as ck

__all__ = [
    "MAX_OBJECT",
    "MAX_PART",
    "MAX_PARTS",
    "MIN_PART",
    "TransferSettings",
    "default_concurrency",
    "part_size_for",
]

MiB = 1 << 20
MIN_PART = 5 * MiB
MAX_PART = 5 * 1024 * MiB
MAX_PARTS = 10_000
MAX_OBJECT = 5 * 1024 * 1024 * MiB
_GROWTH_EVERY = 900


def default_concurrency() -> int:
    """Parts in flight by default: the number of cores, at least 2 and at most 8."""
    return min(8, max(2, os.cpu_count() or 2))


@dataclass(frozen=True, kw_only=True)
class TransferSettings:
    """Settings of :func:`safes3.upload` and :func:`safes3.download`.

    Peak memory of a transfer is about ``part_size * (max_concurrency + 1)``
    whatever the source, so these two numbers are the memory budget.  Larger
    parts with concurrency near the core count move data fastest: the default
    is 32 MiB parts and one part in flight per core, 2 to 8.
    ``max_attempts`` bounds the tries of each part (or range); waits between
    them grow exponentially from ``backoff_initial`` up to ``backoff_max``
    seconds, with full jitter.  ``sleep`` exists so tests need not wait.
    ``checksum_algorithm`` is the per-part checksum of uploads: ``"auto"``
    picks CRC32C when awscrt is installed (``pip install 'safes3[fast]'``;
    it costs a fraction of zlib's CRC32 in CPU) and CRC32 otherwise.
    ``range_size`` is the length of the ranged GETs of a download to a path;
    ``None`` picks one range per worker, at least ``part_size`` and at most
    256 MiB (each GET costs the store a fixed amount of work, and such ranges
    need no buffer).  Downloads to a stream buffer whole ranges and use
    ``part_size``; objects whose stored checksum is per part are read in
    their parts.
    """

    part_size: int = 32 * MiB
    max_concurrency: int = field(default_factory=lambda: default_concurrency())
    max_attempts: int = 5
    backoff_initial: float = 0.25
    backoff_max: float = 20.0
    checksum_algorithm: Literal["auto", "CRC32", "CRC32C"] = "auto"
    range_size: int | None = None
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.part_size, int) or not MIN_PART <= self.part_size <= MAX_PART:
            raise ConfigurationError(
                f"part_size must be an int between {MIN_PART} (5 MiB) and {MAX_PART} (5 GiB) "
                f"bytes, got {self.part_size!r}"
            )
        if self.range_size is not None and (
            not isinstance(self.range_size, int) or not MIN_PART <= self.range_size <= MAX_PART
        ):
            raise ConfigurationError(
                f"range_size must be None or an int between {MIN_PART} (5 MiB) and {MAX_PART} "
                f"(5 GiB) bytes, got {self.range_size!r}"
            )
        if not isinstance(self.max_concurrency, int) or not 1 <= self.max_concurrency <= 64:
            raise ConfigurationError(
                f"max_concurrency must be an int from 1 to 64, got {self.max_concurrency!r}"
            )
        if not isinstance(self.max_attempts, int) or not 1 <= self.max_attempts <= 20:
            raise ConfigurationError(
                f"max_attempts must be an int from 1 to 20, got {self.max_attempts!r}"
            )
        if not 0 <= self.backoff_initial <= self.backoff_max:
            raise ConfigurationError(
                "backoff_initial and backoff_max must satisfy 0 <= backoff_initial <= backoff_max"
            )
        ck.resolve(self.checksum_algorithm)
        if not callable(self.sleep):
            raise ConfigurationError("sleep must be callable (e.g. time.sleep)")


def part_size_for(size: int | None, wanted: int, part_number: int = 1) -> int:
    """The size of part ``part_number`` so the whole object fits in 10,000 parts.

    With a known ``size`` every part (but the last) has one size, at least
    ``wanted``, rounded up to a whole MiB.  With an unknown size the parts
    double every 900 parts, which still reaches S3's 5 TiB object limit
    within 10,000 parts.
    """
    if size is not None:
        if size > MAX_OBJECT:
            raise ConfigurationError(
                f"{size} bytes exceeds S3's largest object ({MAX_OBJECT} bytes, 5 TiB)"
            )
        needed = -(-size // MAX_PARTS)
        needed = -(-needed // MiB) * MiB
        return min(max(wanted, needed), MAX_PART)
    return min(wanted << ((part_number - 1) // _GROWTH_EVERY), MAX_PART)
