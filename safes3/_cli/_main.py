"""The ``safes3`` command: transfers, a read-only bucket audit, policies, key rotation.

Exit codes: 0 success; 1 an operation failed (a safes3 refusal or an S3
error; the message is on stderr); 2 bad usage; 3-6 ``audit`` found a
problem whose worst severity is low (3), medium (4), high (5) or critical
(6); 130 interrupted.  Every command runs through
:func:`safes3._cli._errors.run`, the one place exceptions become codes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from safes3 import __version__
from safes3._cli._bulk import add_cp_options, add_sync_command, run_bulk
from safes3._cli._errors import EXIT_OK, UsageError, run
from safes3._cli._settings import (
    READ_ONLY_ENCRYPTION,
    encryption_setting,
    flag_or_env,
    session_for,
)
from safes3._cli._transfer import Progress, download, upload
from safes3._core._encryption import SSEC
from safes3._core._profiles import StoreProfile
from safes3._exceptions import ConfigurationError

__all__ = ["main"]


def _split(url: str) -> tuple[str, str]:
    if not url.startswith("s3://"):
        raise UsageError(f"{url!r} is not an s3://BUCKET/KEY address")
    bucket, _, key = url[5:].partition("/")
    if not bucket:
        raise UsageError(f"{url!r} names no bucket")
    return bucket, key


@contextlib.contextmanager
def _progress(args: argparse.Namespace, label: str) -> Iterator[Progress | None]:
    """A rich progress bar on stderr, or None when quiet or not on a terminal."""
    if args.quiet or not sys.stderr.isatty():
        yield None
        return
    try:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.progress import Progress as Bar
    except ImportError:
        yield None
        return
    columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn())
    with Bar(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        yield update


# ---- cp / ls / rm -----------------------------------------------------------


def _cmd_cp(args: argparse.Namespace) -> int:
    if args.recursive:
        return run_bulk(args, sync=False)
    src, dst = args.source, args.dest
    if not src.startswith("s3://") and not dst.startswith("s3://"):
        raise UsageError("cp needs at least one s3:// address; use cp for local copies")
    bucket, key = _split(dst if dst.startswith("s3://") else src)
    if dst.startswith("s3://") and (not key or key.endswith("/")):
        key += Path(src).name if src != "-" else ""
    if not key:
        raise UsageError(f"give the {'destination' if dst.startswith('s3://') else 'source'} key")
    s3 = session_for(args, encryption_setting(args, required=dst.startswith("s3://"))).client()
    if dst.startswith("s3://"):
        with contextlib.ExitStack() as stack:
            source: IO[bytes]
            size: int | None = None
            if src == "-":
                source = sys.stdin.buffer
            elif src.startswith("s3://"):
                sb, sk = _split(src)
                got = s3.get_object(Bucket=sb, Key=sk)
                body: Any = stack.enter_context(got["Body"])
                source, size = body, got.get("ContentLength")
            else:
                source = stack.enter_context(Path(src).open("rb"))
                size = Path(src).stat().st_size
            progress = stack.enter_context(_progress(args, key))
            upload(s3, source, bucket, key, size=size, progress=progress)
    else:
        with _progress(args, key) as progress:
            if dst == "-":
                download(s3, bucket, key, sys.stdout.buffer, progress=progress)
                sys.stdout.buffer.flush()
            else:
                target = Path(dst) / Path(key).name if Path(dst).is_dir() else Path(dst)
                download(s3, bucket, key, target, progress=progress)
    return EXIT_OK


def _cmd_ls(args: argparse.Namespace) -> int:
    bucket, prefix = _split(args.url) if args.url else ("", "")
    s3 = session_for(args, encryption_setting(args, required=False)).client()
    rows: list[dict[str, Any]] = []
    if not args.url:
        rows = [{"bucket": b["Name"]} for b in s3.list_buckets().get("Buckets", [])]
    else:
        extra: dict[str, Any] = {} if args.recursive else {"Delimiter": "/"}
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix, **extra
        ):
            rows += [{"prefix": p["Prefix"]} for p in page.get("CommonPrefixes", [])]
            rows += [
                {"key": o["Key"], "size": o["Size"], "modified": o["LastModified"].isoformat()}
                for o in page.get("Contents", [])
            ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    for row in rows:
        if "bucket" in row:
            print(row["bucket"])
        elif "prefix" in row:
            print(f"{'PRE':>30} {row['prefix']}")
        else:
            print(f"{row['modified'][:19]} {row['size']:>10} {row['key']}")
    return EXIT_OK


def _cmd_rm(args: argparse.Namespace) -> int:
    bucket, key = _split(args.url)
    if not key and not args.recursive:
        raise UsageError("give the key to delete, or --recursive for a whole prefix")
    s3 = session_for(args, encryption_setting(args, required=False)).client()
    keys: Iterable[str] = [key]
    if args.recursive:  # streamed: a page of keys in memory at a time
        keys = (
            o["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
            for o in page.get("Contents", [])
        )
    for k in keys:
        s3.delete_object(Bucket=bucket, Key=k)
        if not args.quiet:
            print(f"delete: s3://{bucket}/{k}")
    return EXIT_OK


# ---- audit / policy / rekey / demo -----------------------------------------


def _cmd_audit(args: argparse.Namespace) -> int:
    from safes3._cli._audit import audit_bucket, exit_code
    from safes3._cli._auditreport import to_json, to_sarif, write_table

    setting = encryption_setting(args, required=False)
    ssec = setting if isinstance(setting, SSEC) else None
    session = session_for(args, READ_ONLY_ENCRYPTION)  # reads must not depend on the policy
    s3, profile = session.client(), session.config.store_profile
    reports = []
    for bucket in args.buckets:
        with _progress(args, f"scan {bucket}") as progress:
            reports.append(
                audit_bucket(
                    s3, bucket, profile, workers=args.workers, progress=progress, ssec=ssec
                )
            )
    if args.sarif:
        Path(args.sarif).write_text(json.dumps(to_sarif(reports, __version__), indent=2))
    if args.json:
        print(to_json(reports))
    else:
        write_table(reports, sys.stdout)
    return exit_code(reports)


def _cmd_policy(args: argparse.Namespace) -> int:
    from safes3._cli import _policygen as pg
    from safes3._core._profiles import get_profile

    if (args.replace or args.allow_self_deny) and not args.apply:
        raise UsageError(
            "--replace and --allow-self-deny only change what --apply does; add --apply"
        )
    session = session_for(args, encryption_setting(args, required=False)) if args.apply else None
    profile = (
        session.config.store_profile
        if session
        else get_profile(flag_or_env(args, "store") or "aws")
    )
    policy = _policy(args, profile)
    if session is None:
        print(pg.dumps(policy))
        return EXIT_OK
    from safes3._cli._policy import apply_policy

    apply_policy(
        session, args.bucket, policy, replace=args.replace, allow_self_deny=args.allow_self_deny
    )
    return EXIT_OK


def _policy(args: argparse.Namespace, profile: StoreProfile) -> dict[str, Any]:
    """The policy the flags ask for; what no policy can hold (a bad CIDR) is a usage error."""
    from safes3._cli import _policygen as pg

    b = args.bucket
    groups = []
    try:
        if args.deny_insecure_transport:
            groups.append(pg.deny_insecure_transport(b, profile))
        if args.allow_ip:
            groups.append(pg.restrict_to_ips(b, args.allow_ip))
        if args.require_mfa is not None:
            groups.append(pg.require_mfa(b, args.require_mfa, args.mfa_max_age))
        if args.deny_acl_changes:
            groups.append(pg.deny_acl_changes(b))
        if args.require_encryption:
            groups.append(pg.require_encryption(b, profile, args.require_encryption))
        return pg.bucket_policy(*groups)
    except ConfigurationError as exc:
        raise UsageError(str(exc)) from exc


def _cmd_rekey(args: argparse.Namespace) -> int:
    from safes3._cli._rekeycmd import run_rekey

    return run_rekey(args, _split)


def _cmd_demo(args: argparse.Namespace) -> int:
    from safes3._cli import _demo  # type: ignore[attr-defined, unused-ignore]

    code: int = _demo.run(args.store_json)
    return code


# ---- parser ------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("connection (flags override SAFES3_* and AWS_* variables)")
    g.add_argument("--endpoint-url", help="https:// URL of the store (SAFES3_ENDPOINT_URL)")
    g.add_argument("--ca-bundle", help="PEM file of a private CA (SAFES3_CA_BUNDLE)")
    g.add_argument(
        "--store", help="store profile: aws, ceph, seaweedfs, minio, generic (SAFES3_STORE)"
    )
    g.add_argument("--region", help="region (default: the profile's, else us-east-1)")
    g.add_argument("--profile", help="AWS profile (AWS_PROFILE); role_arn profiles work")
    g.add_argument(
        "--encryption",
        help="kms:KEY-ARN, sse-s3 or sse-c:ENVVAR_OR_FILE "
        "(SAFES3_ENCRYPTION); an SSE-C key is read from that variable or file",
    )
    g.add_argument(
        "--allow-static-credentials",
        action="store_true",
        default=None,
        help="accept long-term access keys (SAFES3_ALLOW_STATIC_CREDENTIALS=1)",
    )
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bars or chatter")

    parser = argparse.ArgumentParser(
        prog="safes3",
        description="S3 over verified TLS with every write encrypted: transfers, a "
        "read-only security audit, bucket policies and key rotation.",
        epilog="Exit codes: 0 ok, 1 failure, 2 usage, 3-6 audit worst severity "
        "(low, medium, high, critical), 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"safes3 {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("cp", parents=[common], help="copy local<->S3, S3->S3; '-' is stdin/out")
    p.add_argument("source")
    p.add_argument("dest")
    add_cp_options(p)
    p.set_defaults(func=_cmd_cp)
    add_sync_command(sub, common)

    p = sub.add_parser("ls", parents=[common], help="list buckets, or keys under s3://B/PREFIX")
    p.add_argument("url", nargs="?")
    p.add_argument("-r", "--recursive", action="store_true")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_ls)

    p = sub.add_parser("rm", parents=[common], help="delete s3://B/KEY (or a prefix)")
    p.add_argument("url")
    p.add_argument("-r", "--recursive", action="store_true")
    p.set_defaults(func=_cmd_rm)

    p = sub.add_parser("audit", parents=[common], help="read-only security audit of buckets")
    p.add_argument("buckets", nargs="+", metavar="BUCKET")
    p.add_argument("--json", action="store_true", help="findings and inventory as JSON")
    p.add_argument("--sarif", metavar="FILE", help="also write a SARIF 2.1.0 log to FILE")
    p.add_argument("--workers", type=int, default=8, help="concurrent HeadObject calls")
    p.set_defaults(func=_cmd_audit)

    p = sub.add_parser("policy", parents=[common], help="generate (and --apply) a bucket policy")
    p.add_argument("bucket")
    p.add_argument("--deny-insecure-transport", action="store_true")
    p.add_argument(
        "--allow-ip",
        action="append",
        metavar="CIDR",
        help="deny requests from outside these ranges (repeatable)",
    )
    p.add_argument("--require-mfa", metavar="PREFIX", help="deny access under PREFIX without MFA")
    p.add_argument("--mfa-max-age", type=int, default=3600, metavar="SECONDS")
    p.add_argument("--deny-acl-changes", action="store_true")
    p.add_argument("--require-encryption", choices=["sse-kms", "sse-s3", "sse-c", "any"])
    p.add_argument(
        "--apply",
        action="store_true",
        help="add these statements to the bucket's policy and verify it was stored",
    )
    p.add_argument(
        "--replace",
        action="store_true",
        help="with --apply: replace the bucket's whole policy instead of adding to it",
    )
    p.add_argument(
        "--allow-self-deny",
        action="store_true",
        help="with --apply: apply even a policy that would deny you (see docs/cli.md)",
    )
    p.set_defaults(func=_cmd_policy)

    p = sub.add_parser("rekey", parents=[common], help="rotate SSE-C keys or encrypt plaintext")
    p.add_argument("url", metavar="s3://BUCKET/PREFIX")
    p.add_argument("--old-key", metavar="SOURCE", help="current SSE-C key: env:NAME or file:PATH")
    p.add_argument(
        "--new-key",
        metavar="SOURCE",
        help="new SSE-C key: env:NAME or file:PATH (default: --encryption)",
    )
    p.add_argument("--encrypt", action="store_true", help="encrypt unencrypted objects")
    p.add_argument(
        "--state",
        required=True,
        metavar="FILE",
        help="progress file for resuming (holds key fingerprints, never keys)",
    )
    p.add_argument("--json", action="store_true", help="one JSON line per object")
    p.add_argument(
        "--purge-old-versions",
        action="store_true",
        help="on a versioned bucket, delete each replaced version once the new one is proven",
    )
    p.set_defaults(func=_cmd_rekey)

    p = sub.add_parser("demo", help="run the demonstration against a test store")
    p.add_argument("--store-json", required=True, metavar="PATH")
    p.set_defaults(func=_cmd_demo, quiet=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``safes3`` console script."""
    args = _parser().parse_args(argv)
    return run(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
