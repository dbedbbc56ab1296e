"""Bulk transfers: copy or sync a tree of objects, many in flight over one client.

The caller's thread plans (walks the local tree or lists the bucket, applies
filters and the sync rule of :mod:`safes3._bulk._plan`) and hands each object
to a pool of ``jobs`` workers sharing the client's connection pool.  Objects
under ``SMALL`` go as one PutObject (or GetObject, or CopyObject) through the
guarded client, retried with backoff; larger ones go through the streaming
engine (:func:`safes3.upload` / :func:`safes3.download`), which retries each
part and aborts its multipart upload when it fails.  Every write is the
guarded client's, so each object is encrypted and proven as a single ``cp``
is.  Memory: a :class:`~safes3._bulk._state.Budget` caps the transfer buffers
of all objects in flight; at most ``2 * jobs`` planned objects wait for a
worker; a sync also holds the destination's listing (one entry per object).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from safes3._boundary import FOREIGN, boundary, describe
from safes3._bulk._ops import SMALL, Mover
from safes3._bulk._plan import (
    Filters,
    Item,
    Location,
    etag_matches,
    list_s3,
    parse_location,
    walk_local,
)
from safes3._bulk._state import (
    Budget,
    BulkResult,
    Ledger,
    OnObject,
    StateFile,
    Stopped,
    TreeProgress,
)
from safes3._exceptions import ConfigurationError, SafeS3Error, TransferError
from safes3._transfer._engineclient import engine_client
from safes3._transfer._journal import encryption_fingerprint
from safes3._transfer._retry import RetryableError
from safes3._transfer._settings import TransferSettings

__all__ = ["DEFAULT_MEMORY", "BulkResult", "copy_tree"]

DEFAULT_MEMORY = 256 * (1 << 20)
_Known = tuple[int, "str | None", "Path | None"]
_INLINE = 1 << 20
"""Up to this size the sync rule's MD5 runs on the planning thread: cheaper than a handoff."""
_OURS = (SafeS3Error, RetryableError, Stopped)
"""Failures whose message is already safes3's sentence."""
_THEIRS: tuple[type[BaseException], ...] = (ClientError, *FOREIGN)


def copy_tree(
    s3: BaseClient,
    source: str,
    dest: str,
    *,
    sync: bool = False,
    delete: bool = False,
    dry_run: bool = False,
    size_only: bool = False,
    filters: Sequence[tuple[str, str]] = (),
    jobs: int | None = None,
    settings: TransferSettings | None = None,
    memory_limit: int = DEFAULT_MEMORY,
    state_file: str | os.PathLike[str] | None = None,
    follow_symlinks: bool = False,
    progress: TreeProgress | None = None,
    on_object: OnObject | None = None,
    check: bool = True,
) -> BulkResult:
    """Copy (or with ``sync=True``, synchronise) a tree: local to S3, S3 to local, S3 to S3.

    ``source`` and ``dest`` are ``s3://BUCKET/PREFIX`` addresses (the prefix
    is a folder) or local directories.  ``filters`` are ``("include"|"exclude",
    GLOB)`` pairs, the last match deciding.  ``sync`` sends only what is
    missing or different at the destination (size, then MD5 against the
    ETag unless ``size_only``); ``delete`` then removes destination objects
    the source lacks, only if nothing failed.  ``state_file`` lets a killed
    copy resume without re-sending what finished.  ``jobs`` objects are in
    flight at once (default: the client's connection pool, at most 16), and
    their buffers stay within ``memory_limit`` bytes.  ``progress(objects_done,
    objects_planned, bytes_done, bytes_planned)`` and ``on_object(action,
    name, outcome)`` are called from worker threads.  With ``check`` (the
    default) any failed object raises :class:`BulkTransferError`, which
    carries the :class:`BulkResult`.
    """
    policy = engine_client(s3, "safes3.copy_tree()")
    pool_size = int(getattr(s3.meta.config, "max_pool_connections", 10) or 10)
    jobs = jobs if jobs is not None else min(16, pool_size)
    if not isinstance(jobs, int) or not 1 <= jobs <= pool_size:
        raise ConfigurationError(
            f"jobs must be from 1 to the client's max_pool_connections ({pool_size}), got "
            f"{jobs!r}; make the client with botocore_config=botocore.config.Config("
            "max_pool_connections=N) for more objects in flight"
        )
    src, dst = check_request(
        source, dest, sync=sync, delete=delete, state_file=state_file, memory_limit=memory_limit
    )
    state = None
    if state_file is not None and not dry_run:
        header = {"source": src.text, "dest": dst.text}
        header["encryption"] = encryption_fingerprint(policy.encryption)
        state = StateFile(Path(state_file), header)
    ledger = Ledger(BulkResult(src.text, dst.text))
    ledger.progress, ledger.on_object = progress, on_object
    chosen = settings or TransferSettings()
    mover = Mover(s3, src, dst, chosen, ledger, state, copy_with_sse=policy.profile.copy_with_sse)
    engine = _Engine(s3, mover, jobs, Budget(memory_limit))
    try:
        with boundary(f"{'sync' if sync else 'copy'} of {src.text}", into=TransferError):
            engine.run(Filters(filters), sync, delete, dry_run, size_only, follow_symlinks)
    finally:
        if state is not None:
            state.close()
    return ledger.result.check() if check else ledger.result


def check_request(
    source: str,
    dest: str,
    *,
    sync: bool,
    delete: bool,
    state_file: Any,
    memory_limit: int,
) -> tuple[Location, Location]:
    """The ends of a :func:`copy_tree` request; ConfigurationError if it contradicts itself."""
    if memory_limit < SMALL:
        raise ConfigurationError(f"memory_limit must be at least {SMALL} bytes")
    src, dst = parse_location(source), parse_location(dest)
    _check_ends(src, dst, sync=sync, delete=delete, state=state_file)
    return src, dst


def _check_ends(src: Location, dst: Location, *, sync: bool, delete: bool, state: Any) -> None:
    if not (src.is_s3 or dst.is_s3):
        raise ConfigurationError("one end must be an s3:// address; use cp -r for local copies")
    if delete and not sync:
        raise ConfigurationError("delete removes extras at the destination: only with sync")
    if state is not None and sync:
        raise ConfigurationError("a sync resumes by its own comparison; a state file is for cp")
    if src.is_s3 and dst.is_s3 and src.bucket == dst.bucket:
        a, b = src.prefix, dst.prefix
        if a.startswith(b) or b.startswith(a):
            raise ConfigurationError(
                f"{src.text} and {dst.text} overlap; copy between prefixes that do not "
                "contain each other"
            )


class _Engine:
    """Plans on the caller's thread; moves objects on ``jobs`` workers."""

    def __init__(self, s3: BaseClient, mover: Mover, jobs: int, budget: Budget) -> None:
        self.s3, self.mover, self.jobs, self.budget = s3, mover, jobs, budget
        self.src, self.dst, self.state = mover.src, mover.dst, mover.state
        self.ledger = mover.ledger
        self.result = self.ledger.result
        self.window = threading.Semaphore(2 * jobs)
        self.filters = Filters()
        settings = mover.settings
        self.large_cost = (settings.max_concurrency + 1) * settings.part_size

    # ---- planning (the caller's thread) -----------------------------------------

    def run(
        self,
        filters: Filters,
        sync: bool,
        delete: bool,
        dry_run: bool,
        size_only: bool,
        follow: bool,
    ) -> None:
        started = time.monotonic()
        self.filters = filters
        index: dict[str, _Known] | None = None
        if sync:
            index = {i.rel: (i.size, i.etag, i.path) for i in self._dest_items() if i.rel}
        with ThreadPoolExecutor(self.jobs, "safes3-bulk") as pool:
            try:
                for item in self._source_items(follow):
                    if not filters.wanted(item.rel):
                        continue
                    known = index.pop(item.rel, None) if index is not None else None
                    self._plan(pool, item, known, dry_run, size_only, index is not None)
                if delete and index is not None:
                    self._deletes(pool, filters, index, dry_run)
            except BaseException:
                self.ledger.stop.set()
                pool.shutdown(wait=True, cancel_futures=True)
                raise
        self.result.seconds = time.monotonic() - started
        self.result.peak_buffer_bytes = self.budget.peak

    def _source_items(self, follow: bool) -> Iterator[Item]:
        if self.src.is_s3:
            yield from list_s3(self.s3, str(self.src.bucket), self.src.prefix)
            return
        assert self.src.path is not None
        room = 1024 - len(self.dst.prefix.encode())
        yield from walk_local(
            self.src.path, follow_symlinks=follow, report=self._refused, key_room=room
        )

    def _dest_items(self) -> Iterator[Item]:
        if self.dst.is_s3:
            yield from list_s3(self.s3, str(self.dst.bucket), self.dst.prefix)
        elif self.dst.path is not None and self.dst.path.is_dir():
            yield from walk_local(self.dst.path, follow_symlinks=False, report=lambda *_: None)

    def _refused(self, rel: str, why: str) -> None:
        """A name the walk could not send: a rule's choice, or a failure of that object."""
        if not self.filters.wanted(rel):
            return
        by_rule = why.startswith(("symbolic link", "special file"))
        self.ledger.refused(self.src.name(rel), why, by_rule=by_rule)

    def _plan(
        self,
        pool: ThreadPoolExecutor,
        item: Item,
        known: _Known | None,
        dry_run: bool,
        size_only: bool,
        syncing: bool,
    ) -> None:
        name = self.src.name(item.rel)
        action = "copy" if self.src.is_s3 and self.dst.is_s3 else "upload"
        action = "download" if not self.dst.is_s3 else action
        if self.state is not None and item.rel in self.state.done:
            self.ledger.count_unchanged()
            return
        if action == "download" and item.rel.endswith("/") and item.size == 0:
            self.ledger.refused(name, "folder marker (key ending in '/')", by_rule=True)
            return
        if not (syncing and known is not None and known[0] == item.size):
            known = None
        elif size_only or dry_run or item.size < _INLINE:
            if size_only or self._same(item, known):
                self.ledger.count_unchanged()
                return
            known = None
        if dry_run:
            self.result.planned.append((action, name))
            self.ledger.tell(action, name, "dryrun")
            return
        self.window.acquire()
        self.ledger.planned(item.size)
        pool.submit(self._one, action, name, item, known)

    def _same(self, item: Item, known: _Known) -> bool:
        """The sync rule for an equal size (see :mod:`safes3._bulk._plan`)."""
        _, dest_etag, dest_path = known
        part = self.mover.settings.part_size
        if item.path is not None:
            return etag_matches(item.path, item.size, dest_etag, part)
        if dest_path is not None:
            return etag_matches(dest_path, item.size, item.etag, part)
        return bool(item.etag) and item.etag == dest_etag

    def _deletes(
        self, pool: ThreadPoolExecutor, filters: Filters, extras: dict[str, _Known], dry_run: bool
    ) -> None:
        """Remove destination objects the source lacks, once every transfer has ended."""
        wanted = [rel for rel in sorted(extras) if filters.wanted(rel)]
        for _ in range(2 * self.jobs):
            self.window.acquire()
        for _ in range(2 * self.jobs):
            self.window.release()
        if self.result.failed and wanted:
            self.ledger.failed(
                "delete",
                self.dst.name(""),
                f"{len(wanted)} deletion(s) skipped because other objects failed",
            )
            return
        for rel in wanted:
            name = self.dst.name(rel)
            if dry_run:
                self.result.planned.append(("delete", name))
                self.ledger.tell("delete", name, "dryrun")
                continue
            self.window.acquire()
            pool.submit(self._one, "delete", name, Item(rel, 0, path=extras[rel][2]), None)

    # ---- one object (a worker thread) -------------------------------------------

    def _one(self, action: str, name: str, item: Item, compare: _Known | None) -> None:
        cost = 0
        try:
            if self.ledger.stop.is_set():
                return
            cost = self.budget.take(item.size if item.size < SMALL else self.large_cost)
            if compare is not None and self._same(item, compare):
                self.ledger.finished(action, name, item.size, "unchanged")
                return
            getattr(self.mover, action)(item)
            if self.state is not None and action != "delete":
                self.state.record(item.rel)
            outcome = "deleted" if action == "delete" else "done"
            self.ledger.finished(action, name, item.size, outcome)
        except _OURS as exc:
            self.ledger.failed(action, name, str(exc) or type(exc).__name__)
        except _THEIRS as exc:  # a failed object, not a failed run
            self.ledger.failed(action, name, describe(exc))
        except Exception as exc:  # noqa: BLE001 - one object's bug must not stop the run
            self.ledger.failed(action, name, f"{type(exc).__name__}: {exc}")
        finally:
            if cost:
                self.budget.give(cost)
            self.window.release()
