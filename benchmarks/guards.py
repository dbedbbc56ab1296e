"""Per-request cost of safes3's guards vs plain boto3: small PutObject and GetObject.

Variants, each in its own child process, interleaved over the repeats:
``boto3-default`` (plain boto3, default config), ``boto3-equiv-kms`` and
``boto3-equiv-ssec`` (plain boto3 set up like safes3: SigV4, unsigned
payload, checksums when required, path addressing, the same encryption
parameters and a CRC32 header the caller computes, so only the guards
differ), ``safes3-kms`` and ``safes3-ssec``.  Reports requests/s and client
CPU-ms per request, and safes3's CPU ratio to its equivalent plain client.

    python -m benchmarks.guards                      # sink, 2,000 requests, 3 repeats
    python -m benchmarks.guards --profile safes3-kms # cProfile the guards
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import json
import os
import pstats
import resource
import statistics
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from benchmarks._child import SSEC_KEY, Spec, _boto3_client, _safes3_client
from benchmarks.sink import running_sink

VARIANTS = ("boto3-default", "boto3-equiv-kms", "safes3-kms", "boto3-equiv-ssec", "safes3-ssec")
PAIRS = (("safes3-kms", "boto3-equiv-kms"), ("safes3-ssec", "boto3-equiv-ssec"))
_WARMUP = 50


def _calls(spec: Spec, variant: str, body: bytes) -> tuple[Callable[[int], Any], ...]:
    """The (put, get) callables of ``variant``; their argument is a request index."""
    crc = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    if variant.startswith("safes3"):
        s3 = _safes3_client(spec)
        put_extra: dict[str, Any] = {}
        get_extra: dict[str, Any] = {}
    else:
        s3 = _boto3_client(spec, tuned=variant != "boto3-default")
        if spec.sse == "kms":
            put_extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": spec.kms_key_id}
            get_extra = {}
        else:
            put_extra = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": SSEC_KEY}
            get_extra = dict(put_extra)
        if variant != "boto3-default":
            put_extra["ChecksumCRC32"] = crc
    prefix = f"guards/{variant}/{os.getpid()}"

    def put(i: int) -> Any:
        return s3.put_object(Bucket=spec.bucket, Key=f"{prefix}/{i}", Body=body, **put_extra)

    def get(i: int) -> Any:
        return s3.get_object(Bucket=spec.bucket, Key=f"{prefix}/{i}", **get_extra)["Body"].read()

    return put, get


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(spec: Spec, variant: str, count: int, profile: bool) -> dict[str, Any]:
    put, get = _calls(spec, variant, os.urandom(spec.size))
    out: dict[str, Any] = {"variant": variant}
    for name, call in (("put", put), ("get", get)):
        for i in range(_WARMUP):
            call(i)
        prof = cProfile.Profile() if profile else None
        cpu0, t0 = _cpu(), time.perf_counter()
        if prof is not None:
            prof.enable()
        for i in range(count):
            call(i % max(count, 1))
        if prof is not None:
            prof.disable()
            stats = pstats.Stats(prof, stream=sys.stderr)
            print(f"==== {variant} {name}: cProfile by cumulative time", file=sys.stderr)
            stats.sort_stats("cumulative").print_stats(r"safes3|hooks\.py", 25)
        seconds = time.perf_counter() - t0
        cpu = _cpu() - cpu0
        out[name] = {"req_per_s": count / seconds, "cpu_ms_per_req": cpu / count * 1e3}
    return out


def _spawn(spec: Spec, variant: str, count: int) -> dict[str, Any]:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.guards",
            "--child",
            spec.to_json(),
            "--variant",
            variant,
            "--count",
            str(count),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode or not lines:
        return {"variant": variant, "error": " | ".join(proc.stderr.strip().splitlines()[-3:])}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _base(endpoint: str, ca: str, size: int) -> Spec:
    return Spec(
        variant="",
        workload="guards",
        sse="kms",
        endpoint_url=endpoint,
        ca_bundle=ca,
        region="us-east-1",
        profile="minio",
        kms_key_id="arn:aws:kms:us-east-1:000000000000:key/safes3-bench",
        bucket="bench",
        key="",
        size=size,
        source="",
        workdir="/tmp",
    )


def report(runs: dict[str, list[dict[str, Any]]]) -> str:
    lines = [
        "| variant | put req/s | put CPU-ms/req | get req/s | get CPU-ms/req |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for variant, results in runs.items():
        good = [r for r in results if "error" not in r]
        if not good:
            lines.append(f"| {variant} | error: {results[0].get('error', '')[:100]} | | | |")
            continue
        cells = [
            f"{statistics.median(r[op][m] for r in good):,.{0 if m == 'req_per_s' else 3}f}"
            for op in ("put", "get")
            for m in ("req_per_s", "cpu_ms_per_req")
        ]
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    lines.append("")
    for mine, theirs in PAIRS:
        for op in ("put", "get"):
            ratios = [
                a[op]["cpu_ms_per_req"] / b[op]["cpu_ms_per_req"]
                for a, b in zip(runs.get(mine, []), runs.get(theirs, []), strict=False)
                if "error" not in a and "error" not in b
            ]
            if ratios:
                lines.append(
                    f"- {op}: {mine}/{theirs} CPU per request {statistics.median(ratios):.3f} "
                    f"[{min(ratios):.3f}-{max(ratios):.3f}] (target <= 1.05)"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--variant", default="safes3-kms")
    parser.add_argument("--count", type=int, default=2000, help="requests per variant and op")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--object-size", type=int, default=4096)
    parser.add_argument("--profile", metavar="VARIANT", help="run VARIANT once under cProfile")
    parser.add_argument("--json", help="also write every run here")
    args = parser.parse_args()
    if args.child:
        spec = Spec.from_json(args.child)
        spec = replace(spec, sse="ssec" if args.variant.endswith("ssec") else "kms")
        print(json.dumps(child(spec, args.variant, args.count, profile=False)))
        return
    with running_sink() as sink:
        base = _base(sink.endpoint_url, sink.ca_bundle, args.object_size)
        if args.profile:
            spec = replace(base, sse="ssec" if args.profile.endswith("ssec") else "kms")
            child(spec, args.profile, args.count, profile=True)
            return
        load = os.getloadavg()
        runs: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
        for rep in range(args.repeats):
            shift = rep % len(VARIANTS)
            for variant in VARIANTS[shift:] + VARIANTS[:shift]:
                runs[variant].append(_spawn(base, variant, args.count))
                print(f"[{rep + 1}/{args.repeats}] {variant}", file=sys.stderr)
    print(
        f"{args.count} x {args.object_size}-byte PutObject then GetObject per run, "
        f"{args.repeats} repeats; nproc={os.cpu_count()}, load {load} -> {os.getloadavg()}\n"
    )
    print(report(runs))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(runs, out, indent=2)


if __name__ == "__main__":
    main()
