"""The upload's bounded pipeline: read parts in the caller's thread, send them on workers.

The caller's thread fills reusable part buffers from the source and hands
each full part to a worker; a worker sends it (with its own retries) and
gives the buffer back with the outcome.  Only ``max_concurrency + 1``
buffers ever exist, so memory is bounded whatever the source.  The caller's
thread alone records finished parts, so the journal and the progress
callback never see two threads.  On any failure the pipeline stops handing
out parts and waits for the ones in flight, so the caller can abort the
multipart upload knowing that no part is still being sent.

The download's :class:`~safes3._transfer._rangepool.RangePool` is not used here: it
abandons its daemon workers mid-request on failure, which suits reads but
not an upload that must be aborted after its last part request ended.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from safes3._exceptions import TransferError
from safes3._transfer._journal import DonePart
from safes3._transfer._parts import PartReader
from safes3._transfer._settings import MAX_PARTS, part_size_for

__all__ = ["FirstPart", "PartPipeline", "SendPart"]

SendPart = Callable[[int, memoryview, int], tuple[DonePart, int]]
"""``send(number, body, crc)`` on a worker: the finished part and its extra sends.

A failure it raises reaches the caller's thread as it is (a store failure
should already be a :class:`~safes3._transfer._uploadpolicy.StoreFailure`)."""


@dataclass(frozen=True, slots=True)
class FirstPart:
    """The part read before the pipeline started (it decided single or multipart)."""

    buffer: bytearray
    n: int
    crc: int


@dataclass(frozen=True, slots=True)
class _Outcome:
    buffer: bytearray
    part: DonePart | None
    error: BaseException | None
    retries: int


@dataclass
class PartPipeline:
    """Sends every part of ``reader`` through ``send``, ``workers`` at a time."""

    reader: PartReader
    compute: Callable[[memoryview, int], int]
    """The part checksum, computed as the part is read."""
    workers: int
    send: SendPart
    where: str
    stop: threading.Event = field(default_factory=threading.Event)
    _returns: queue.Queue[_Outcome] = field(default_factory=queue.Queue)
    _outstanding: int = 0

    def run(
        self,
        first: FirstPart,
        part_size: int,
        resumable: dict[int, DonePart],
        finished: Callable[[DonePart, int | None], None],
    ) -> None:
        """Send the parts not in ``resumable``; ``finished(part, extra_sends)`` for each.

        ``extra_sends`` is None for a part the journal let it skip.

        A part in ``resumable`` is read again but not sent, and must match.
        """
        idle: list[bytearray] = []
        allocated = 1
        with ThreadPoolExecutor(self.workers, "safes3-upload") as pool:
            try:
                buffer, n, crc, number = first.buffer, first.n, first.crc, 1
                while True:
                    if number > MAX_PARTS:
                        raise TransferError(
                            f"{self.where} needs more than {MAX_PARTS} parts; pass size= or a "
                            "larger part_size"
                        )
                    known = resumable.get(number)
                    if known is not None:
                        self._check_same(known, n, crc)
                        finished(known, None)
                        idle.append(buffer)
                    else:
                        pool.submit(self._send, number, buffer, n, crc)
                        self._outstanding += 1
                    if self._last(n < len(buffer)):
                        break
                    number += 1
                    wanted = part_size_for(self.reader.size, part_size, number)
                    if idle:
                        buffer = idle.pop()
                    elif allocated < self.workers + 1:
                        buffer, allocated = bytearray(wanted), allocated + 1
                    else:
                        buffer = self._collect(finished)
                    if len(buffer) != wanted:
                        buffer = bytearray(wanted)
                    n, crc = self.reader.fill_checked(memoryview(buffer), self.compute)
                    if n == 0:
                        break
                while self._outstanding:
                    self._collect(finished)
            except BaseException:
                self.stop.set()
                raise

    def _last(self, short: bool) -> bool:
        total = self.reader.size
        return short or (total is not None and self.reader.consumed >= total)

    def _check_same(self, known: DonePart, n: int, crc: int) -> None:
        if (known.size, known.crc) != (n, crc):
            raise TransferError(
                f"part {known.number} of the source differs from the part the journal "
                f"recorded for {self.where}; this is not the same source"
            )

    def _collect(self, finished: Callable[[DonePart, int | None], None]) -> bytearray:
        outcome = self._returns.get()
        self._outstanding -= 1
        if outcome.error is not None:
            self.stop.set()
            raise outcome.error
        if outcome.part is not None:
            finished(outcome.part, outcome.retries)
        return outcome.buffer

    def _send(self, number: int, buffer: bytearray, n: int, crc: int) -> None:
        """Runs in a worker.  The buffer is never resized (views of it may outlive the request)."""
        if self.stop.is_set():
            self._returns.put(_Outcome(buffer, None, None, 0))
            return
        try:
            part, retries = self.send(number, memoryview(buffer)[:n], crc)
            self._returns.put(_Outcome(buffer, part, None, retries))
        except Exception as exc:  # noqa: BLE001 - every failure goes to the caller's thread
            self._returns.put(_Outcome(buffer, None, exc, 0))
