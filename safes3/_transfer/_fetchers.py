"""Where a download's ranges go: into their place in a file, or in order into a stream.

To a file, each worker reads a range a chunk at a time into its own small
buffer, checksums the chunk while it is in cache and writes it at its
offset with ``os.pwrite`` on its own duplicate of the descriptor: no range
waits for another, and memory is one chunk per worker whatever the range
size.  To a stream, which only takes bytes in order, workers fill whole
range buffers and the caller's thread writes them in order, so at most
``max_concurrency + 1`` range buffers exist.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from safes3._transfer import _checksum as ck
from safes3._transfer import _rangeread
from safes3._transfer._destfile import DestFile
from safes3._transfer._rangepool import RangePool
from safes3._transfer._rangeread import Pin, RangeJob
from safes3._transfer._settings import TransferSettings
from safes3._transfer._stats import TransferStats

__all__ = ["WRITE", "Plan", "to_file", "to_stream"]

Progress = Callable[[int, int | None], None] | None


@dataclass(frozen=True)
class Plan:
    """What to fetch: the object (pinned to one version), its size, CRC and ranges."""

    bucket: str
    key: str
    size: int
    pin: Pin
    algo: ck.Algorithm
    ranges: list[tuple[int, int]]


def _job(s3: Any, plan: Plan, settings: TransferSettings, pool: RangePool) -> RangeJob:
    return RangeJob(
        s3, (plan.bucket, plan.key), plan.pin, plan.size, settings, plan.algo, pool.flight
    )


WRITE = 256 << 10
"""Largest single ``pwrite``.

The page cache sizes its folios from the write: with 1 MiB writes, repeated
downloads on the test machine (a VM whose free memory is handed back to the
host) ran at 2.4-4.5 CPU-s/GiB in most repeats instead of 1.2-1.8, the time
going into the kernel's copy into fresh page-cache memory; with 256 KiB
writes (boto3 writes 256 KiB too) no repeat did (docs/benchmarks.md).
"""


def _pwrite_all(fd: int, view: memoryview, offset: int) -> None:
    while view:
        n = os.pwrite(fd, view[:WRITE], offset)
        view, offset = view[n:], offset + n


def to_file(
    s3: Any,
    plan: Plan,
    settings: TransferSettings,
    progress: Progress,
    dest: DestFile,
    stats: TransferStats,
) -> list[int]:
    """Fetch every range into its place in ``dest``; the ranges' CRCs, in order."""
    dest.truncate(plan.size)
    if not plan.ranges:
        return []
    workers = min(settings.max_concurrency, len(plan.ranges))
    chunk = _rangeread.CHUNK
    states = [(os.dup(dest.fd), memoryview(bytearray(chunk))) for _ in range(workers)]
    pool = RangePool(states, release=lambda state: os.close(state[0]), report=progress is not None)
    job = _job(s3, plan, settings, pool)

    def task(index: int, start: int, length: int) -> Callable[[Any], tuple[int, int]]:
        def fetch(state: tuple[int, memoryview]) -> tuple[int, int]:
            fd, buffer = state

            def placed(pos: int, view: memoryview) -> None:
                _pwrite_all(fd, view, start + pos)
                pool.progress(index, len(view))

            return job.fetch(start, length, lambda _pos, n: buffer[:n], placed)

        return fetch

    for index, (start, length) in enumerate(plan.ranges):
        pool.submit(index, task(index, start, length))
    crcs = [0] * len(plan.ranges)
    left = len(plan.ranges)
    abandon = True
    base = stats.moved
    try:
        while left:
            kind, index, value = pool.next_event()
            if kind == "progress":
                if progress is not None:
                    progress(base + pool.moved(), plan.size)
            elif kind == "done":
                crcs[index], retries = value
                stats.retries += retries
                left -= 1
            else:
                raise value
        abandon = False
    finally:
        pool.close(abandon=abandon)
        stats.moved = base + pool.moved()
    return crcs


def to_stream(
    s3: Any,
    plan: Plan,
    settings: TransferSettings,
    progress: Progress,
    out: BinaryIO,
    stats: TransferStats,
) -> list[int]:
    """Fetch the ranges into buffers and write them to ``out`` in order; their CRCs."""
    count = len(plan.ranges)
    if not count:
        return []
    pool = RangePool([None] * min(settings.max_concurrency, count), release=lambda _: None)
    job = _job(s3, plan, settings, pool)
    window = settings.max_concurrency + 1
    spare: list[memoryview] = []
    buffers: dict[int, tuple[memoryview, memoryview]] = {}
    finished: dict[int, int] = {}
    crcs: list[int] = []
    submitted = 0
    abandon = True

    def submit(index: int) -> None:
        start, length = plan.ranges[index]
        full = spare.pop() if spare else memoryview(bytearray(length))
        view = full[:length]
        buffers[index] = (full, view)
        pool.submit(
            index,
            lambda _state: job.fetch(start, length, lambda pos, n: view[pos : pos + n], _nothing),
        )

    try:
        while len(crcs) < count:
            while submitted < count and submitted - len(crcs) < window:
                submit(submitted)
                submitted += 1
            kind, index, value = pool.next_event()
            if kind == "failed":
                raise value
            if kind != "done":
                continue
            finished[index], retries = value
            stats.retries += retries
            while len(crcs) in finished:
                written = len(crcs)
                full, view = buffers.pop(written)
                out.write(view)
                crcs.append(finished.pop(written))
                spare.append(full)
                stats.moved += len(view)
                if progress is not None:
                    progress(stats.moved, plan.size)
        abandon = False
    finally:
        pool.close(abandon=abandon)
    return crcs


def _nothing(_pos: int, _view: memoryview) -> None:
    return
