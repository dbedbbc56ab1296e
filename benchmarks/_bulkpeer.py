"""The plain-boto3 peer of the bulk benchmark: a thread pool of put/get calls, no safes3.

    python -m benchmarks._bulkpeer upload|download|sync|list SRC DST --jobs N

Settings come from the environment (endpoint, CA, keys, KMS key id) as the
benchmark sets them.  Small files are one put_object/get_object each; files of
8 MiB or more use boto3's managed ``upload_file``/``download_file``.  ``sync``
lists the destination and compares sizes only (the cheapest rule);
``list`` is one listing of the prefix, the yardstick for a no-op sync.
"""

from __future__ import annotations

import argparse
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

_LARGE = 8 << 20


def _client(jobs: int) -> Any:
    return boto3.session.Session().client(
        "s3",
        endpoint_url=os.environ["BENCH_ENDPOINT"],
        verify=os.environ["BENCH_CA"],
        config=Config(
            max_pool_connections=jobs + 10,
            request_checksum_calculation="when_required",
            s3={"addressing_style": "path"},
        ),
    )


def _split(url: str) -> tuple[str, str]:
    bucket, _, prefix = url[5:].partition("/")
    return bucket, prefix.rstrip("/") + "/"


def _listing(s3: Any, bucket: str, prefix: str) -> dict[str, int]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {o["Key"][len(prefix) :]: o["Size"] for p in pages for o in p.get("Contents", [])}


def _files(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for p in root.rglob("*") if p.is_file()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("op", choices=["upload", "download", "sync", "list"])
    parser.add_argument("src")
    parser.add_argument("dst", nargs="?")
    parser.add_argument("--jobs", type=int, default=32)
    args = parser.parse_args()
    s3 = _client(args.jobs)
    sse = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": os.environ["BENCH_KMS"]}

    def put(bucket: str, key: str, path: Path) -> None:
        if path.stat().st_size >= _LARGE:
            s3.upload_file(str(path), bucket, key, ExtraArgs=sse)
        else:
            s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), **sse)

    def get(bucket: str, key: str, size: int, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if size >= _LARGE:
            s3.download_file(bucket, key, str(path))
        else:
            path.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    with ThreadPoolExecutor(args.jobs) as pool:
        if args.op == "list":
            _listing(s3, *_split(args.src))
        elif args.op in {"upload", "sync"}:
            bucket, prefix = _split(args.dst)
            have = _listing(s3, bucket, prefix) if args.op == "sync" else {}
            futures = [
                pool.submit(put, bucket, prefix + rel, path)
                for rel, path in _files(Path(args.src)).items()
                if have.get(rel) != path.stat().st_size
            ]
            for f in futures:
                f.result()
        else:
            bucket, prefix = _split(args.src)
            root = Path(args.dst)
            futures = [
                pool.submit(get, bucket, prefix + rel, size, root / rel)
                for rel, size in _listing(s3, bucket, prefix).items()
            ]
            for f in futures:
                f.result()


if __name__ == "__main__":
    main()
