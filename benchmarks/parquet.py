"""Parquet through fsspec: ``safes3://`` against s3fs on the same store, one run.

A dataset of ``--files`` parquet files (``--size`` MiB in all, incompressible
float64 columns, no compression, so the bytes on the wire are the dataset's
size) is written with ``DataFrame.to_parquet`` and read back with
``pandas.read_parquet`` of the directory, through each filesystem in turn.
Variants are interleaved within each repeat and their order rotated between
repeats; the table gives medians of MB/s and client CPU-seconds per GiB, and
the ratio safes3/s3fs computed per repeat, as median [min-max].

Equivalent settings: the same store, the same CA, the same (admin) keys from
a shared credentials file, SSE-KMS with the same key.  s3fs needs botocore's
``request_checksum_calculation="when_required"`` (and response validation
"when_required") on Ceph RGW, which rejects the default aws-chunked trailer;
it gets that on every store so both send the same kind of request.  s3fs is
not a dependency of safes3: install it into a separate venv
(``pip install -e '.[dask]' s3fs``), as it pins botocore through aiobotocore.

    python -m benchmarks.parquet --store-json /work/stores/rgw/store.json
    python -m benchmarks.parquet --store-json STORE --size 1024 --files 8 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pandas as pd
from botocore.config import Config as BotocoreConfig

MiB = 1 << 20
COLUMNS = 8


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _frame(size: int, files: int) -> pd.DataFrame:
    rows = size // files // (8 * COLUMNS)
    rng = np.random.default_rng(1)
    return pd.DataFrame({f"c{i}": rng.random(rows) for i in range(COLUMNS)})


def _safes3_options(store: dict[str, Any]) -> dict[str, Any]:
    return {
        "encryption": "SSE-KMS",
        "kms_key_id": store["kms_key_ids"][0],
        "endpoint_url": store["endpoint_url"],
        "ca_bundle": store["ca_bundle"],
        "store": store["extra"]["profile"],
        "region": store.get("region", "us-east-1"),
        "profile": "bench",
        "allow_static_credentials": True,
    }


def _s3fs_options(store: dict[str, Any]) -> dict[str, Any]:
    return {
        "profile": "bench",
        "endpoint_url": store["endpoint_url"],
        "client_kwargs": {"verify": store["ca_bundle"], "region_name": "us-east-1"},
        "config_kwargs": {
            "request_checksum_calculation": "when_required",
            "response_checksum_validation": "when_required",
            "s3": {"addressing_style": "path"},
        },
        "s3_additional_kwargs": {
            "ServerSideEncryption": "aws:kms",
            "SSEKMSKeyId": store["kms_key_ids"][0],
        },
        "skip_instance_cache": True,
    }


def _admin(store: dict[str, Any]) -> Any:
    return boto3.session.Session().client(
        "s3",
        endpoint_url=store["endpoint_url"],
        verify=store["ca_bundle"],
        region_name=store.get("region", "us-east-1"),
        aws_access_key_id=store["admin"]["access_key"],
        aws_secret_access_key=store["admin"]["secret_key"],
        config=BotocoreConfig(
            request_checksum_calculation="when_required", s3={"addressing_style": "path"}
        ),
    )


def _empty(admin: Any, bucket: str) -> None:
    for page in admin.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            admin.delete_object(Bucket=bucket, Key=item["Key"])


def _measure(run: Callable[[], Any], size: int) -> dict[str, float]:
    cpu, start = _cpu(), time.perf_counter()
    run()
    seconds, used = time.perf_counter() - start, _cpu() - cpu
    return {"MB/s": size / seconds / 1e6, "cpu_s_per_gib": used / (size / (1 << 30))}


def _one(
    variant: str, store: dict[str, Any], bucket: str, df: pd.DataFrame, files: int, size: int
) -> dict[str, dict[str, float]]:
    protocol, options = (
        ("safes3", _safes3_options(store)) if variant == "safes3" else ("s3", _s3fs_options(store))
    )
    base = f"{protocol}://{bucket}/{variant}-{uuid.uuid4().hex[:8]}"

    def write() -> None:
        for n in range(files):
            df.to_parquet(
                f"{base}/part-{n}.parquet", storage_options=options, compression=None, index=False
            )

    def read() -> None:
        back = pd.read_parquet(base, storage_options=options)
        assert len(back) == len(df) * files

    return {"write": _measure(write, size), "read": _measure(read, size)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store-json", required=True)
    parser.add_argument("--size", type=int, default=1024, help="dataset size in MiB")
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variants", default="safes3,s3fs")
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args()
    store = json.loads(Path(args.store_json).read_text())
    variants = args.variants.split(",")
    home = Path(tempfile.mkdtemp(prefix="safes3-parquet-"))
    credentials = home / "credentials"
    credentials.write_text(
        f"[bench]\naws_access_key_id = {store['admin']['access_key']}\n"
        f"aws_secret_access_key = {store['admin']['secret_key']}\n"
    )
    credentials.chmod(0o600)
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(credentials)
    os.environ["AWS_CONFIG_FILE"] = str(home / "no-config")
    df = _frame(args.size * MiB, args.files)
    size = int(df.memory_usage(index=False).sum()) * args.files
    admin = _admin(store)
    bucket = f"bench-parquet-{uuid.uuid4().hex[:8]}"
    admin.create_bucket(Bucket=bucket)
    load_start = os.getloadavg()
    results: dict[str, dict[str, list[dict[str, float]]]] = {
        v: {"write": [], "read": []} for v in variants
    }
    try:
        for repeat in range(args.repeats):
            order = variants[repeat % len(variants) :] + variants[: repeat % len(variants)]
            for variant in order:
                got = _one(variant, store, bucket, df, args.files, size)
                for op, figures in got.items():
                    results[variant][op].append(figures)
                print(f"repeat {repeat + 1} {variant}: {json.dumps(got)}", flush=True)
                _empty(admin, bucket)
    finally:
        _empty(admin, bucket)
        admin.delete_bucket(Bucket=bucket)
    _report(results, variants, store, size, args, load_start)


def _report(
    results: dict[str, dict[str, list[dict[str, float]]]],
    variants: list[str],
    store: dict[str, Any],
    size: int,
    args: argparse.Namespace,
    load_start: tuple[float, float, float],
) -> None:
    out: dict[str, Any] = {
        "store": store["name"],
        "bytes": size,
        "files": args.files,
        "repeats": args.repeats,
        "load_average_start": load_start,
        "load_average_end": os.getloadavg(),
        "medians": {},
        "ratios": {},
    }
    print(f"\n{store['name']}: {size / MiB:.0f} MiB in {args.files} files, {args.repeats} repeats")
    print(f"{'variant':8} {'op':6} {'MB/s':>8} {'CPU-s/GiB':>10}")
    for variant in variants:
        for op in ("write", "read"):
            runs = results[variant][op]
            mbs = statistics.median(r["MB/s"] for r in runs)
            cpu = statistics.median(r["cpu_s_per_gib"] for r in runs)
            out["medians"][f"{variant}.{op}"] = {"MB/s": mbs, "cpu_s_per_gib": cpu}
            print(f"{variant:8} {op:6} {mbs:8.1f} {cpu:10.2f}")
    if {"safes3", "s3fs"} <= set(variants):
        for op in ("write", "read"):
            ratios = [
                a["MB/s"] / b["MB/s"]
                for a, b in zip(results["safes3"][op], results["s3fs"][op], strict=True)
            ]
            out["ratios"][op] = ratios
            print(
                f"safes3/s3fs {op} throughput: {statistics.median(ratios):.2f} "
                f"[{min(ratios):.2f}-{max(ratios):.2f}]"
            )
    print(f"load average start {load_start}, end {out['load_average_end']}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
