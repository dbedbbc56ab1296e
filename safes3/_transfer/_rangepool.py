"""The download's worker threads: they fetch ranges, the caller's thread hears from them.

Workers are daemon threads, each with a state made for it in the caller's
thread (its own duplicate of the file descriptor and its read buffer), and
report through one queue: ``("progress", index, nbytes)`` as bytes land,
``("done", index, result)`` or ``("failed", index, exception)``.  The
caller's thread alone calls the progress callback and decides what happens
next, so an exception there (Ctrl-C, or a callback that raises to cancel)
is seen at once.  On :meth:`close` with the download abandoned, reads
blocked on the network are cut (:meth:`Flight.cancel`) and the caller does
not wait for the threads: a worker still inside a request finishes it into
nothing and exits, and being a daemon it never holds up the interpreter's
exit.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from safes3._transfer._rangeread import Flight

__all__ = ["Event", "RangePool"]

Event = tuple[str, int, Any]


class RangePool:
    """``len(states)`` daemon workers; ``release(state)`` runs when each one exits.

    Bytes put in place are tallied per range (:meth:`moved`); with
    ``report`` each step is also a ``progress`` event, which wakes the
    caller's thread, so a download nobody watches does without them.
    """

    def __init__(
        self, states: list[Any], release: Callable[[Any], None], *, report: bool = True
    ) -> None:
        self.flight = Flight()
        self.report = report
        self._tally: dict[int, int] = {}
        self._tally_lock = threading.Lock()
        self._tasks: queue.SimpleQueue[tuple[int, Callable[[Any], Any]] | None] = (
            queue.SimpleQueue()
        )
        self._events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(
                target=self._work, args=(state, release), name="safes3-download", daemon=True
            )
            for state in states
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, index: int, task: Callable[[Any], Any]) -> None:
        """Run ``task(state)`` on a worker; its result comes back as a ``done`` event."""
        self._tasks.put((index, task))

    def progress(self, index: int, nbytes: int) -> None:
        """From a worker: ``nbytes`` more bytes of range ``index`` are in place."""
        with self._tally_lock:
            self._tally[index] = self._tally.get(index, 0) + nbytes
        if self.report:
            self._events.put(("progress", index, nbytes))

    def moved(self) -> int:
        """Bytes put in place so far, over all ranges."""
        with self._tally_lock:
            return sum(self._tally.values())

    def next_event(self) -> Event:
        return self._events.get()

    def close(self, *, abandon: bool) -> None:
        """Let the workers exit; with ``abandon``, stop the ranges still running first."""
        if abandon:
            self.flight.cancel()
        for _ in self._threads:
            self._tasks.put(None)
        if not abandon:
            for thread in self._threads:
                thread.join()

    def _work(self, state: Any, release: Callable[[Any], None]) -> None:
        try:
            while True:
                item = self._tasks.get()
                if item is None:
                    return
                index, task = item
                if self.flight.stop.is_set():
                    continue
                try:
                    self._events.put(("done", index, task(state)))
                except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                    self._events.put(("failed", index, exc))
        finally:
            release(state)
