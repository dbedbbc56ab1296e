"""``safes3 cp --recursive`` and ``safes3 sync``: the command line of :mod:`safes3._bulk._bulk`.

Per-object lines go to stdout (``upload: NAME``) unless ``--quiet`` or
``--json``; the failures and the summary go to stderr, or the summary as one
JSON document to stdout with ``--json``.  Exit 1 when any object was not
transferred, naming each.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from botocore.config import Config as BotocoreConfig

from safes3._bulk._bulk import DEFAULT_MEMORY, check_request, copy_tree
from safes3._bulk._state import BulkResult, TreeProgress
from safes3._cli._errors import EXIT_ERROR, EXIT_OK, UsageError
from safes3._cli._settings import encryption_setting, session_for
from safes3._exceptions import ConfigurationError
from safes3._session import Session
from safes3._transfer._settings import TransferSettings

__all__ = ["add_cp_options", "add_sync_command", "run_bulk"]

MiB = 1 << 20


class _Filter(argparse.Action):
    """Keeps ``--include`` and ``--exclude`` in the order given: the last match decides."""

    def __call__(
        self, parser: Any, namespace: argparse.Namespace, values: Any, option: Any = None
    ) -> None:
        rules = list(getattr(namespace, "filters", None) or [])
        rules.append((self.dest, values))
        namespace.filters = rules


def _shared(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("bulk transfers (with --recursive, and for sync)")
    g.add_argument("--include", action=_Filter, metavar="GLOB", help="take back an --exclude")
    g.add_argument("--exclude", action=_Filter, metavar="GLOB", help="leave out matching paths")
    g.add_argument("--jobs", type=int, default=16, metavar="N", help="objects in flight (16)")
    g.add_argument(
        "--memory-mib",
        type=int,
        default=DEFAULT_MEMORY // MiB,
        metavar="MIB",
        help="cap on the transfer buffers of all objects in flight (256)",
    )
    g.add_argument("--follow-symlinks", action="store_true", help="follow symbolic links")
    g.add_argument("--dryrun", action="store_true", help="print what would be done")
    g.add_argument("--json", action="store_true", help="a JSON summary on stdout")
    p.set_defaults(filters=[])


def add_cp_options(p: argparse.ArgumentParser) -> None:
    """``cp``'s flags for trees (the single-object ``cp`` ignores them)."""
    p.add_argument("-r", "--recursive", action="store_true", help="copy a tree of objects")
    p.add_argument(
        "--state", metavar="FILE", help="with --recursive: record finished objects to resume"
    )
    _shared(p)


def add_sync_command(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "sync", parents=[common], help="copy what is missing or different (--delete extras)"
    )
    p.add_argument("source")
    p.add_argument("dest")
    p.add_argument("--delete", action="store_true", help="remove what the source lacks")
    p.add_argument(
        "--size-only", action="store_true", help="compare sizes only, not MD5 with the ETag"
    )
    _shared(p)
    p.set_defaults(func=lambda args: run_bulk(args, sync=True))


def _check_usage(args: argparse.Namespace, *, sync: bool) -> None:
    """The request's own contradictions, before any setting is read: exit 2."""
    if not 1 <= args.jobs <= 256:
        raise UsageError(f"--jobs must be from 1 to 256, got {args.jobs}")
    try:
        check_request(
            args.source,
            args.dest,
            sync=sync,
            delete=getattr(args, "delete", False),
            state_file=getattr(args, "state", None),
            memory_limit=args.memory_mib * MiB,
        )
    except ConfigurationError as exc:
        raise UsageError(str(exc)) from exc


def _client(args: argparse.Namespace, writes: bool) -> Any:
    session = session_for(args, encryption_setting(args, required=writes))
    settings = TransferSettings()
    large = (settings.max_concurrency + 1) * settings.part_size
    pool = args.jobs + min(args.jobs, max(1, args.memory_mib * MiB // large)) * (
        settings.max_concurrency
    )
    botocore = BotocoreConfig(max_pool_connections=pool, retries={"mode": "standard"})
    bulk = Session(dataclasses.replace(session.config, botocore_config=botocore))
    return bulk.client()


def run_bulk(args: argparse.Namespace, *, sync: bool) -> int:
    """Run ``cp --recursive`` or ``sync``; 0 if every object was transferred, else 1."""
    _check_usage(args, sync=sync)
    quiet = args.quiet or args.json
    s3 = _client(args, writes=args.dest.startswith("s3://"))
    lock = threading.Lock()

    def on_object(action: str, name: str, outcome: str) -> None:
        failed = action == "fail" or outcome.startswith("failed")
        if quiet and not failed:
            return
        if action in {"skip", "fail"}:
            line = f"{'not copied' if action == 'skip' else 'failed'}: {name}: {outcome}"
        elif failed:
            line = f"failed: {action} {name}: {outcome.partition(': ')[2]}"
        else:
            line = f"{'(dryrun) ' if outcome == 'dryrun' else ''}{action}: {name}"
        with lock:
            print(line, file=sys.stderr if failed or action == "skip" else sys.stdout)

    with _progress(args) as progress:
        result = copy_tree(
            s3,
            args.source,
            args.dest,
            sync=sync,
            delete=getattr(args, "delete", False),
            dry_run=args.dryrun,
            size_only=getattr(args, "size_only", False),
            filters=args.filters,
            jobs=args.jobs,
            memory_limit=args.memory_mib * MiB,
            state_file=getattr(args, "state", None),
            follow_symlinks=args.follow_symlinks,
            progress=progress,
            on_object=on_object,
            check=False,
        )
    _summary(result, as_json=args.json)
    return EXIT_ERROR if result.failed else EXIT_OK


def _summary(result: BulkResult, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary_dict(result), indent=2))
    else:
        rate = result.transferred / result.seconds if result.seconds else 0.0
        if result.planned:
            print(f"(dryrun) {len(result.planned)} planned", file=sys.stderr)
        print(
            f"{result.transferred} transferred ({result.bytes} bytes), "
            f"{result.unchanged} unchanged, {len(result.deleted)} deleted, "
            f"{len(result.not_copied)} not copied, {len(result.failed)} failed "
            f"in {result.seconds:.1f} s ({rate:.0f} objects/s)",
            file=sys.stderr,
        )
    if result.failed:
        print(f"safes3: error: {len(result.failed)} object(s) not transferred:", file=sys.stderr)
        for name, why in sorted(result.failed.items()):
            print(f"  {name}: {why}", file=sys.stderr)


def summary_dict(result: BulkResult) -> dict[str, Any]:
    return {
        "source": result.source,
        "dest": result.dest,
        "transferred": result.transferred,
        "unchanged": result.unchanged,
        "deleted": sorted(result.deleted),
        "failed": dict(sorted(result.failed.items())),
        "not_copied": dict(sorted(result.not_copied.items())),
        "planned": [list(p) for p in result.planned],
        "bytes": result.bytes,
        "retries": result.retries,
        "seconds": round(result.seconds, 3),
        "peak_buffer_bytes": result.peak_buffer_bytes,
    }


@contextlib.contextmanager
def _progress(args: argparse.Namespace) -> Iterator[TreeProgress | None]:
    """One rich display for the run: objects and bytes done of those planned, rate, ETA."""
    if args.quiet or args.json or not sys.stderr.isatty():
        yield None
        return
    try:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.progress import (
            Progress as Bar,
        )
    except ImportError:
        yield None
        return
    columns: Sequence[Any] = (
        TextColumn("{task.fields[objects]}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Bar(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("bulk", total=None, objects="0/0 objects")

        def update(done: int, planned: int, done_bytes: int, planned_bytes: int) -> None:
            bar.update(
                task,
                completed=done_bytes,
                total=planned_bytes,
                objects=f"{done}/{planned} objects",
            )

        yield update
