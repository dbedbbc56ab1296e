"""``safes3 rekey``: build the reader and writer, run the job, report what is left."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from safes3._cli._errors import EXIT_ERROR, EXIT_OK, UsageError
from safes3._cli._rekey import Rekeyer, StateFile, rekey
from safes3._cli._settings import READ_ONLY_ENCRYPTION, encryption_setting, load_ssec, session_for
from safes3._core._encryption import SSEC

__all__ = ["run_rekey"]


def run_rekey(args: argparse.Namespace, split: Callable[[str], tuple[str, str]]) -> int:
    """``safes3 rekey``: the exit code (1 when any object failed or a purge failed)."""
    bucket, prefix = split(args.url)
    if not args.old_key and not args.encrypt:
        raise UsageError("give --old-key SOURCE to rotate SSE-C keys, or --encrypt")
    new = load_ssec(args.new_key) if args.new_key else encryption_setting(args, required=True)
    old = load_ssec(args.old_key) if args.old_key else None
    if old is not None and isinstance(new, SSEC) and old == new:
        raise UsageError("the old and the new SSE-C key are the same key")
    writer_session = session_for(args, new)
    reader = session_for(args, old if old else READ_ONLY_ENCRYPTION).client()
    job = Rekeyer(
        writer=writer_session.client(),
        reader=reader,
        new=new,
        old=old,
        profile=writer_session.config.store_profile,
    )
    state = StateFile(Path(args.state), job.header(bucket, prefix))

    def report(key: str, status: str) -> None:
        if args.json:
            print(json.dumps({"key": key, "status": status}), flush=True)
        elif not args.quiet:
            print(f"{status}: s3://{bucket}/{key}", flush=True)

    result = rekey(job, bucket, prefix, state, report, purge_old_versions=args.purge_old_versions)
    purge_failed = {k: v for k, v in result.purged_versions.items() if "FAILED" in v}
    failed = result.failed | purge_failed
    summary = {
        "done": len(result.done),
        "skipped": len(result.skipped),
        "failed": failed,
        "old_versions_kept": len(result.kept_versions),
    }
    print(
        json.dumps(summary)
        if args.json
        else f"{len(result.done)} rewritten, {len(result.skipped)} skipped, {len(failed)} failed",
        file=sys.stdout if args.json else sys.stderr,
    )
    if not args.json:
        for key, why in failed.items():
            print(f"safes3: failed: s3://{bucket}/{key}: {why}", file=sys.stderr)
    if result.kept_versions:
        print(
            f"safes3: warning: {len(result.kept_versions)} replaced version(s) are still in the "
            "versioned bucket as before (unencrypted or under the old key); rerun with "
            "--purge-old-versions to delete them",
            file=sys.stderr,
        )
    return EXIT_ERROR if failed else EXIT_OK
