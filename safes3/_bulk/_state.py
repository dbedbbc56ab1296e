"""What a bulk run's threads share: the memory budget, the state file, the result ledger."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safes3._exceptions import BulkTransferError, ConfigurationError
from safes3._transfer import _jsonlines as jsonlines

__all__ = ["Budget", "BulkResult", "Ledger", "OnObject", "StateFile", "Stopped", "TreeProgress"]

TreeProgress = Callable[[int, int, int, int], None]
"""``(objects_done, objects_planned, bytes_done, bytes_planned)`` of a whole tree."""
OnObject = Callable[[str, str, str], None]


class Budget:
    """Bytes of transfer buffers that may exist at once, shared by every worker.

    A worker takes what its object may hold (a small object's size; a large
    one's ``part_size * (max_concurrency + 1)``) before it starts and gives it
    back when done, so the buffers of all objects in flight never exceed
    ``limit`` whatever mix of sizes the tree holds.  A single object costing
    more than ``limit`` is charged ``limit`` (it runs alone).
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.peak = 0
        self._cond = threading.Condition()

    def take(self, n: int) -> int:
        n = min(n, self.limit)
        with self._cond:
            while self.used + n > self.limit:
                self._cond.wait()
            self.used += n
            self.peak = max(self.peak, self.used)
        return n

    def give(self, n: int) -> None:
        with self._cond:
            self.used -= n
            self._cond.notify_all()


class StateFile:
    """Which objects of one ``cp --recursive`` job are finished, for a resumed run.

    JSON lines: a header naming the job (source, destination, encryption
    fingerprint: never key material), then one ``{"done": REL}`` per finished
    object.  Each line is one ``write`` to a file opened with O_APPEND: a
    killed process loses nothing written (the kernel holds it); only a crash
    of the machine can lose the last lines, and those objects are then sent
    again, which is harmless.  Large files also keep their multipart journal
    under ``PATH.parts/`` so a killed upload resumes at the part it reached.
    """

    def __init__(self, path: Path, header: dict[str, str]) -> None:
        self.path = path
        self.done: set[str] = set()
        self._lock = threading.Lock()
        if path.exists():
            lines = jsonlines.read_state(path)
            if lines and lines[0] != header:
                raise ConfigurationError(
                    f"state file {path} belongs to another job ({lines[0]}); "
                    "use another --state file or delete it"
                )
            self.done = {e["done"] for e in lines[1:] if isinstance(e, dict) and "done" in e}
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        if not self.done and path.stat().st_size == 0:
            os.write(self._fd, (json.dumps(header) + "\n").encode())

    def record(self, rel: str) -> None:
        line = (json.dumps({"done": rel}) + "\n").encode()
        with self._lock:
            os.write(self._fd, line)
            self.done.add(rel)

    def journal_for(self, rel: str) -> Path:
        folder = self.path.with_name(self.path.name + ".parts")
        folder.mkdir(mode=0o700, exist_ok=True)
        return folder / (hashlib.sha256(rel.encode()).hexdigest()[:32] + ".json")

    def close(self) -> None:
        os.fsync(self._fd)
        os.close(self._fd)


@dataclass
class BulkResult:
    """What a bulk run did; names are full source (or, for deletions, destination) names.

    ``failed`` maps each object not transferred to why: store failures after
    retries, and names that cannot be copied (not UTF-8, too long, unsafe as
    a local path).  ``not_copied`` lists what the rules leave out on purpose
    (symbolic links not followed, special files, folder markers).
    ``transferred`` and ``unchanged`` are counts (names would grow with the
    tree): objects sent, and objects a sync found identical or a resumed run
    found done in its state file.  ``planned`` is the plan of a dry run, as
    ``(action, name)`` pairs.  ``peak_buffer_bytes`` is the most the memory
    budget had handed out at once.
    """

    source: str
    dest: str
    transferred: int = 0
    unchanged: int = 0
    deleted: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    not_copied: dict[str, str] = field(default_factory=dict)
    planned: list[tuple[str, str]] = field(default_factory=list)
    bytes: int = 0
    retries: int = 0
    seconds: float = 0.0
    peak_buffer_bytes: int = 0

    def check(self) -> BulkResult:
        """Raise :class:`BulkTransferError` naming every failed object; else return self."""
        if self.failed:
            names = "; ".join(f"{k}: {v}" for k, v in list(self.failed.items())[:20])
            more = f" (and {len(self.failed) - 20} more)" if len(self.failed) > 20 else ""
            raise BulkTransferError(
                f"{len(self.failed)} object(s) not transferred: {names}{more}", self
            )
        return self


class Stopped(Exception):
    """The run was interrupted while this object was in flight."""


class Ledger:
    """The run's result and counters, written by every worker under one lock.

    ``progress(objects_done, objects_planned, bytes_done, bytes_planned)``
    and ``on_object(action, name, outcome)`` are the caller's callbacks.
    """

    def __init__(self, result: BulkResult) -> None:
        self.result = result
        self.progress: TreeProgress | None = None
        self.on_object: OnObject | None = None
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.counts = [0, 0, 0, 0]
        self._local = threading.local()

    def planned(self, size: int) -> None:
        with self.lock:
            self.counts[1] += 1
            self.counts[3] += size

    def count_unchanged(self) -> None:
        with self.lock:
            self.result.unchanged += 1

    def refused(self, name: str, why: str, *, by_rule: bool) -> None:
        with self.lock:
            (self.result.not_copied if by_rule else self.result.failed)[name] = why
        self.tell("skip" if by_rule else "fail", name, why)

    def failed(self, action: str, name: str, why: str) -> None:
        with self.lock:
            self.result.failed[name] = why
        self._local.seen = 0
        self.tell(action, name, f"failed: {why}")

    def finished(self, action: str, name: str, size: int, outcome: str) -> None:
        """``outcome`` is ``done`` (transferred), ``unchanged`` or ``deleted``."""
        with self.lock:
            if outcome == "deleted":
                self.result.deleted.append(name)
            elif outcome == "unchanged":
                self.result.unchanged += 1
            else:
                self.result.transferred += 1
                self.result.bytes += size
            if outcome != "deleted":
                self.counts[0] += 1
                self.counts[2] += size - getattr(self._local, "seen", 0)
            self._local.seen = 0
            counts = tuple(self.counts)
        if outcome != "unchanged":
            self.tell(action, name, outcome)
        if self.progress is not None:
            self.progress(*counts)

    def watch(self) -> Callable[[int, int | None], None]:
        """A large object's progress: bytes as its parts finish, and the run's stop.

        Raising from the engine's progress callback is an interruption from
        the caller's side: the engine aborts the upload, or keeps it for the
        state file's journal to resume.
        """
        local = self._local
        local.seen = 0

        def update(done: int, _total: int | None) -> None:
            if self.stop.is_set():
                raise Stopped("the run was interrupted")
            with self.lock:
                self.counts[2] += done - local.seen
                counts = tuple(self.counts)
            local.seen = done
            if self.progress is not None:
                self.progress(*counts)

        return update

    def retried(self, *_: Any) -> None:
        with self.lock:
            self.result.retries += 1

    def tell(self, action: str, name: str, outcome: str) -> None:
        if self.on_object is not None:
            self.on_object(action, name, outcome)
