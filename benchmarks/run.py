"""Transfer benchmark: raw TLS vs boto3 (default, tuned) vs safes3, one command.

Each (workload, variant, repeat) runs in its own child process; variants are
interleaved within each repeat, their order rotated between repeats.  The
table gives medians of MB/s, client CPU-seconds per GiB, the server's
CPU-seconds per GiB (the sink's processes, or the store's daemons from its
store.json) and peak RSS, and the ratios safes3/raw-tls and
safes3/boto3-default computed per repeat (so both sides of a ratio share the
machine's state), as median [min-max].  Client and server share the
machine's cores, so when both are busy the throughput ratio cannot exceed
the inverse of the client+server CPU ratio.

    python -m benchmarks.run                     # sink, 1 GiB, 3 repeats
    python -m benchmarks.run --size 256 --repeats 3 --json out.json
    python -m benchmarks.run --target store --store-json /tmp/sw-lead/store.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import botocore

import safes3
from benchmarks._child import VARIANTS, Spec, run_child
from benchmarks.sink import running_sink, synthetic_key

MiB = 1 << 20
WORKLOADS = {
    "upload": ("upload from a file", "kms"),
    "pipe": ("upload from a short-reading pipe (size unknown to the client)", "kms"),
    "download": ("download to a file", "kms"),
    "upload-ssec": ("upload from a file, SSE-C", "ssec"),
    "upload-sses3": ("upload from a file, SSE-S3", "sses3"),
}
SUBJECTS = ("safes3", "safes3-client")


def _variants_for(workload: str, target: str, wanted: list[str]) -> list[str]:
    out = [v for v in wanted if not (v == "raw-tls" and target == "store")]
    if workload.startswith("upload-"):
        out = [v for v in out if v != "boto3-default"]
    return out


def _environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "boto3": boto3.__version__,
        "botocore": botocore.__version__,
        "safes3": safes3.__version__,
        "nproc": os.cpu_count(),
        "load_average_start": os.getloadavg(),
        "machine": platform.machine(),
        "kernel": platform.release(),
    }


def _make_source(directory: Path, size: int) -> str:
    path = directory / "source.bin"
    block = os.urandom(MiB)
    with path.open("wb") as out:
        left = size
        while left:
            n = min(left, MiB)
            out.write(block[:n])
            left -= n
    return str(path)


@contextmanager
def _target(
    args: argparse.Namespace, workdir: Path, source: str
) -> Iterator[tuple[Spec, Callable[[], float]]]:
    """A base Spec pointing at the sink (started here) or at a live store, and its CPU meter."""
    base = dict(
        variant="",
        workload="",
        sse="kms",
        region="us-east-1",
        key="",
        size=args.size * MiB,
        source=source,
        workdir=str(workdir),
        part_mib=args.part_mib,
        concurrency=args.concurrency,
        read_kib=args.read_kib,
    )
    if args.target == "sink":
        with running_sink() as sink:
            spec = Spec(
                endpoint_url=sink.endpoint_url,
                ca_bundle=sink.ca_bundle,
                profile=args.profile or "minio",
                kms_key_id="arn:aws:kms:us-east-1:000000000000:key/safes3-bench",
                bucket="bench",
                **base,
            )
            yield spec, sink.cpu_seconds
        return
    info = json.loads(Path(args.store_json).read_text())
    admin = boto3.session.Session().client(
        "s3",
        endpoint_url=info["endpoint_url"],
        region_name=info.get("region", "us-east-1"),
        verify=info["ca_bundle"],
        aws_access_key_id=info["admin"]["access_key"],
        aws_secret_access_key=info["admin"]["secret_key"],
        config=botocore.config.Config(s3={"addressing_style": "path"}),
    )
    bucket = f"safes3-bench-{uuid.uuid4().hex[:8]}"
    admin.create_bucket(Bucket=bucket)
    try:
        spec = Spec(
            endpoint_url=info["endpoint_url"],
            ca_bundle=info["ca_bundle"],
            profile=args.profile or info.get("extra", {}).get("profile", "generic"),
            kms_key_id=info["kms_key_ids"][0],
            bucket=bucket,
            store_json=str(Path(args.store_json).resolve()),
            region=info.get("region", "us-east-1"),
            **{k: v for k, v in base.items() if k != "region"},
        )
        yield spec, _store_cpu(args.store_json)
    finally:
        for page in admin.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                admin.delete_object(Bucket=bucket, Key=obj["Key"])
        for up in admin.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
            admin.abort_multipart_upload(Bucket=bucket, Key=up["Key"], UploadId=up["UploadId"])
        admin.delete_bucket(Bucket=bucket)


def _download_key(base: Spec) -> str:
    """An object to download: synthetic on the sink, uploaded once to a store."""
    if base.store_json is None:
        return synthetic_key(base.size, "download")
    key = "bench/download-source"
    spec = replace(base, variant="boto3-tuned", workload="upload", key=key)
    result = run_child(spec)
    if result["error"]:
        raise RuntimeError(f"could not seed the download object: {result['error']}")
    return key


def _store_cpu(store_json: str) -> Callable[[], float]:
    """CPU-seconds used so far by the store's daemons (their PIDs are in store.json)."""
    pids = json.loads(Path(store_json).read_text()).get("extra", {}).get("pids", [])
    return lambda: _cpu_of([int(p) for p in (pids.values() if isinstance(pids, dict) else pids)])


def _cpu_of(pids: list[int]) -> float:
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _run_child_process(spec: Spec, server_cpu: Callable[[], float]) -> dict[str, Any]:
    server0 = server_cpu()
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--child", spec.to_json()],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"variant": spec.variant, "workload": spec.workload, "error": " | ".join(tail)}
    result: dict[str, Any] = json.loads(lines[-1])
    result["server_cpu_s_per_gib"] = (server_cpu() - server0) / (spec.size / (1 << 30))
    result["total_cpu_s_per_gib"] = result["cpu_s_per_gib"] + result["server_cpu_s_per_gib"]
    return result


def _ratio(
    runs: dict[str, list[dict[str, Any]]], num: str, den: str, field: str
) -> tuple[float, float, float] | None:
    pairs = [
        a[field] / b[field]
        for a, b in zip(runs.get(num, []), runs.get(den, []), strict=False)
        if not a.get("error") and not b.get("error") and b[field]
    ]
    if not pairs:
        return None
    return statistics.median(pairs), min(pairs), max(pairs)


def _cause(error: str) -> str:
    """The part of a child's error that says why (botocore puts the S3 error code last)."""
    code = re.search(r"An error occurred \((\w+)\) when calling the (\w+) operation", error)
    if code:
        return f"{code.group(2)}: {code.group(1)}"
    return error[:120]


def _fmt_ratio(r: tuple[float, float, float] | None) -> str:
    return "n/a" if r is None else f"{r[0]:.2f} [{r[1]:.2f}-{r[2]:.2f}]"


def summarise(
    workload: str, runs: dict[str, list[dict[str, Any]]], bound_mib: float
) -> tuple[str, dict[str, Any]]:
    """A markdown table for one workload, and the same figures as data."""
    title, _ = WORKLOADS[workload]
    lines = [
        f"### {workload}: {title}",
        "",
        "| variant | MB/s | CPU-s/GiB | server CPU-s/GiB | peak RSS MiB | RSS growth MiB "
        "| errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    data: dict[str, Any] = {"variants": {}, "ratios": {}}
    for variant, results in runs.items():
        good = [r for r in results if not r.get("error")]
        errors = sorted({_cause(r["error"]) for r in results if r.get("error")})
        if good:
            med = {
                f: statistics.median(r[f] for r in good)
                for f in ("mb_per_s", "cpu_s_per_gib", "server_cpu_s_per_gib", "peak_rss_mib")
            }
            med["rss_growth_mib"] = statistics.median(
                r["peak_rss_mib"] - r["rss_before_mib"] for r in good
            )
            cells = (
                f"{med['mb_per_s']:,.0f} | {med['cpu_s_per_gib']:.2f} | "
                f"{med['server_cpu_s_per_gib']:.2f} | "
                f"{med['peak_rss_mib']:,.0f} | {med['rss_growth_mib']:,.0f}"
            )
        else:
            med = {}
            cells = "- | - | - | - | -"
        err = "; ".join(errors)
        lines.append(f"| {variant} | {cells} | {len(good)}/{len(results)} ok {err} |")
        data["variants"][variant] = {"median": med, "runs": results}
    lines.append("")
    for subject in SUBJECTS:
        if subject not in runs:
            continue
        for den in ("raw-tls", "boto3-default", "boto3-tuned", "safes3"):
            if den not in runs or den == subject:
                continue
            thr = _ratio(runs, subject, den, "mb_per_s")
            cpu = _ratio(runs, subject, den, "cpu_s_per_gib")
            both = _ratio(runs, subject, den, "total_cpu_s_per_gib")
            data["ratios"][f"{subject}/{den}"] = {"throughput": thr, "cpu": cpu, "total_cpu": both}
            lines.append(
                f"- {subject}/{den}: throughput {_fmt_ratio(thr)}, CPU/GiB {_fmt_ratio(cpu)}, "
                f"client+server CPU/GiB {_fmt_ratio(both)}"
            )
    if workload == "pipe" and "safes3" in runs:
        growth = data["variants"]["safes3"]["median"].get("rss_growth_mib")
        lines.append(
            f"- safes3 memory bound part_size x (in flight + 1) = {bound_mib:.0f} MiB "
            f"(+ constant); measured RSS growth {growth if growth is None else round(growth)} MiB"
        )
    lines.append("")
    return "\n".join(lines), data


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--target", choices=("sink", "store"), default="sink")
    parser.add_argument("--store-json", help="store.json of a live test store (--target store)")
    parser.add_argument(
        "--profile", help="safes3 store profile (default: minio on the sink, else the store's)"
    )
    parser.add_argument("--size", type=int, default=1024, help="MiB per transfer (default 1024)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--json", help="also write every run and summary here")
    parser.add_argument("--part-mib", type=int, help="safes3 part size (default: its default)")
    parser.add_argument(
        "--concurrency", type=int, help="safes3 parts in flight (default: its default)"
    )
    parser.add_argument(
        "--read-kib", type=int, help="safes3 download read size in KiB (default: its default)"
    )
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_child(Spec.from_json(args.child))))
        return
    if args.target == "store" and not args.store_json:
        parser.error("--target store needs --store-json PATH")
    wanted = [v for v in args.variants.split(",") if v]
    if "safes3" in wanted and not hasattr(safes3, "upload"):
        wanted.remove("safes3")
    workloads = [w for w in args.workloads.split(",") if w]
    env = _environment()
    given = {
        "part_size": args.part_mib and args.part_mib * MiB,
        "max_concurrency": args.concurrency,
    }
    settings = safes3.TransferSettings(**{k: v for k, v in given.items() if v})
    bound_mib = settings.part_size * (settings.max_concurrency + 1) / MiB
    results: dict[str, dict[str, list[dict[str, Any]]]] = {w: {} for w in workloads}
    with tempfile.TemporaryDirectory(prefix="safes3-bench-") as tmp:
        source = _make_source(Path(tmp), args.size * MiB)
        with _target(args, Path(tmp), source) as (base, server_cpu):
            download_key = _download_key(base) if "download" in workloads else ""
            for rep in range(args.repeats):
                for workload in workloads:
                    variants = _variants_for(workload, args.target, wanted)
                    shift = rep % len(variants)
                    for variant in variants[shift:] + variants[:shift]:
                        spec = replace(
                            base,
                            variant=variant,
                            workload=workload,
                            sse=WORKLOADS[workload][1],
                            key=download_key
                            if workload == "download"
                            else f"bench/{workload}/{variant}/{rep}",
                        )
                        result = _run_child_process(spec, server_cpu)
                        results[workload].setdefault(variant, []).append(result)
                        status = result.get("error") or f"{result.get('mb_per_s', 0):,.0f} MB/s"
                        print(
                            f"[{rep + 1}/{args.repeats}] {workload:13} {variant:14} {status}",
                            file=sys.stderr,
                        )
    env["load_average_end"] = os.getloadavg()
    print(f"target: {args.target}, {args.size} MiB per transfer, {args.repeats} repeats")
    print("environment: " + ", ".join(f"{k}={v}" for k, v in env.items()))
    print(
        f"safes3 settings: part_size {settings.part_size // MiB} MiB x "
        f"{settings.max_concurrency} in flight\n"
    )
    summary: dict[str, Any] = {"environment": env, "args": vars(args), "workloads": {}}
    for workload in workloads:
        ordered = {v: results[workload][v] for v in VARIANTS if v in results[workload]}
        table, data = summarise(workload, ordered, bound_mib)
        print(table)
        summary["workloads"][workload] = data
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
