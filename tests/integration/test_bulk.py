"""``safes3 cp --recursive`` and ``safes3 sync`` as subprocesses against the live stores.

What the store kept is read back with the raw admin client (plain boto3):
every key, and HeadObject's encryption for each.  Failures are real HTTP
error answers from :mod:`tests.httpproxy` (faithful to: status, S3 error
document, keep-alive; the store never sees the answered request).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import pytest

from tests.httpproxy import HttpFaultProxy, Request
from tests.storeinfo import StoreInfo

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.store

KiB = 1024


def _env(store: StoreInfo, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SAFES3_"))}
    env.update(
        SAFES3_ENDPOINT_URL=store.endpoint_url,
        SAFES3_CA_BUNDLE=store.ca_bundle,
        SAFES3_STORE=store.extra["profile"],
        SAFES3_ALLOW_STATIC_CREDENTIALS="1",
        SAFES3_ENCRYPTION=f"kms:{store.kms_key_ids[0]}",
        AWS_ACCESS_KEY_ID=store.admin.access_key,
        AWS_SECRET_ACCESS_KEY=store.admin.secret_key,
        AWS_DEFAULT_REGION=store.region,
        AWS_CONFIG_FILE="/nonexistent",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
    )
    env.update(extra)
    return env


def _cmd(store: StoreInfo, *args: str) -> list[str]:
    return [sys.executable, "-m", "safes3", *args]


def _run(store: StoreInfo, *args: str, timeout: float = 300, **env: str) -> Any:
    return subprocess.run(
        _cmd(store, *args),
        capture_output=True,
        env=_env(store, **env),
        timeout=timeout,
        check=False,
    )


def _summary(proc: Any) -> dict[str, Any]:
    assert proc.stdout, proc.stderr
    found: dict[str, Any] = json.loads(proc.stdout)
    return found


def _keys(s3: S3Client, bucket: str, prefix: str = "") -> dict[str, int]:
    return {
        o["Key"]: o["Size"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for o in page.get("Contents", [])
    }


def _assert_all_encrypted(store: StoreInfo, s3: S3Client, bucket: str) -> int:
    keys = _keys(s3, bucket)
    for key in keys:
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head.get("ServerSideEncryption") == "aws:kms", key
        assert head.get("SSEKMSKeyId") == store.kms_key_ids[0], key
    uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert uploads == [], "a multipart upload was left behind"
    return len(keys)


def _tree(root: Path) -> dict[str, bytes]:
    """A nested tree: small files, a 9 MiB and a 33 MiB file (the streaming path)."""
    files = {
        "top.txt": b"top",
        "empty.bin": b"",
        "a/one.txt": b"1" * 100,
        "a/skip.log": b"log",
        "a/keep.log": b"kept log",
        "a/b/c/deep.txt": os.urandom(5 * KiB),
        "a/b/mid.bin": os.urandom(9 << 20),
        "big/large.bin": os.urandom(33 << 20),
        "sp ace/ünï.txt": b"unicode",
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    (root / "emptydir").mkdir()
    os.mkfifo(root / "a" / "pipe")
    (root / "link.txt").symlink_to(root / "top.txt")
    return files


def test_tree_with_filters_up_down_and_s3_to_s3(
    store: StoreInfo, bucket: str, admin_s3: S3Client, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    files = _tree(src)
    wanted = {k: v for k, v in files.items() if not k.endswith(".log") or k == "a/keep.log"}
    up = _run(
        store, "cp", "-r", str(src), f"s3://{bucket}/up", "--exclude", "*.log",
        "--include", "a/keep.log", "--json", "--jobs", "4",
    )  # fmt: skip
    assert up.returncode == 0, up.stderr
    summary = _summary(up)
    assert summary["transferred"] == len(wanted)
    assert summary["failed"] == {}
    assert sorted(summary["not_copied"]) == [str(src / "a" / "pipe"), str(src / "link.txt")]
    assert _keys(admin_s3, bucket) == {f"up/{k}": len(v) for k, v in wanted.items()}

    down = tmp_path / "down"
    got = _run(store, "cp", "-r", f"s3://{bucket}/up/", str(down), "-q")
    assert got.returncode == 0, got.stderr
    on_disk = {str(p.relative_to(down)): p.read_bytes() for p in down.rglob("*") if p.is_file()}
    assert on_disk == wanted

    copy = _run(store, "cp", "-r", f"s3://{bucket}/up", f"s3://{bucket}/copy", "--json")
    assert copy.returncode == 0, copy.stderr
    assert _keys(admin_s3, bucket, "copy/") == {f"copy/{k}": len(v) for k, v in wanted.items()}
    assert _assert_all_encrypted(store, admin_s3, bucket) == 2 * len(wanted)

    (src / "bad\udcff.txt").write_bytes(b"x")  # a name that is not UTF-8
    again = _run(store, "cp", "-r", str(src), f"s3://{bucket}/up", "--json")
    assert again.returncode == 1
    assert list(_summary(again)["failed"]) == [str(src / "bad\\xff.txt")]
    assert "bad\\xff.txt" in again.stderr.decode()


def test_sync_compares_by_content_and_deletes_extras(
    store: StoreInfo, bucket: str, admin_s3: S3Client, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    for i in range(30):
        (src / f"d{i % 3}").mkdir(parents=True, exist_ok=True)
        (src / f"d{i % 3}" / f"f{i}.txt").write_bytes(f"file {i:04d}".encode())
    (src / "big.bin").write_bytes(os.urandom(40 << 20))
    first = _run(store, "sync", str(src), f"s3://{bucket}/s", "--json")
    assert first.returncode == 0, first.stderr
    assert _summary(first)["transferred"] == 31

    (src / "d0" / "f0.txt").write_bytes(b"FILE 0000")  # same size, other bytes
    (src / "d1" / "f1.txt").unlink()
    (src / "new.txt").write_bytes(b"new")
    admin_s3.put_object(
        Bucket=bucket,
        Key="s/d2/extra.log",
        Body=b"kept: excluded",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=store.kms_key_ids[0],
        ContentMD5=base64.b64encode(hashlib.md5(b"kept: excluded").digest()).decode(),  # noqa: S324
    )
    plan = _run(store, "sync", str(src), f"s3://{bucket}/s", "--delete", "--dryrun", "--json")
    assert sorted(map(tuple, _summary(plan)["planned"])) == [
        ("delete", f"s3://{bucket}/s/d1/f1.txt"),
        ("delete", f"s3://{bucket}/s/d2/extra.log"),
        ("upload", str(src / "d0" / "f0.txt")),
        ("upload", str(src / "new.txt")),
    ]
    assert "s/d1/f1.txt" in _keys(admin_s3, bucket)
    second = _run(
        store, "sync", str(src), f"s3://{bucket}/s", "--delete", "--exclude", "*.log", "--json"
    )
    assert second.returncode == 0, second.stderr
    summary = _summary(second)
    assert (summary["transferred"], summary["unchanged"]) == (2, 29)
    assert summary["deleted"] == [f"s3://{bucket}/s/d1/f1.txt"]
    stored = admin_s3.get_object(Bucket=bucket, Key="s/d0/f0.txt")["Body"].read()
    assert stored == b"FILE 0000"
    assert "s/d2/extra.log" in _keys(admin_s3, bucket)
    noop = _run(store, "sync", str(src), f"s3://{bucket}/s", "--exclude", "*.log", "--json")
    assert (_summary(noop)["transferred"], _summary(noop)["unchanged"]) == (0, 31)

    down = tmp_path / "down"
    down.mkdir()
    (down / "stale.txt").write_bytes(b"not in the bucket")
    back = _run(store, "sync", f"s3://{bucket}/s", str(down), "--delete", "--json")
    assert back.returncode == 0, back.stderr
    assert _summary(back)["deleted"] == [str(down / "stale.txt")]
    assert (down / "big.bin").read_bytes() == (src / "big.bin").read_bytes()
    again = _run(store, "sync", f"s3://{bucket}/s", str(down), "--json")
    assert _summary(again)["transferred"] == 0
    _assert_all_encrypted(store, admin_s3, bucket)


def _proxy(store: StoreInfo) -> HttpFaultProxy:
    where = urlsplit(store.endpoint_url)
    assert where.hostname is not None
    assert where.port is not None
    return HttpFaultProxy(where.hostname, where.port, store.ca_bundle)


def _on_key(bucket: str, key: str, method: str) -> Any:
    def matches(request: Request) -> bool:
        path = unquote(urlsplit(request.target).path)
        return request.method == method and path == f"/{bucket}/{key}"

    return matches


def test_store_failures_name_exactly_the_failed_objects(
    store: StoreInfo, bucket: str, admin_s3: S3Client, tmp_path: Path
) -> None:
    """Two keys answer 500 InternalError to every attempt, one answers 503 SlowDown once, and
    every part of a large file answers 500: exit 1 naming the three failed objects, the
    flaky one retried and stored, the large one's multipart upload aborted."""
    src = tmp_path / "src"
    src.mkdir()
    for i in range(40):
        (src / f"k{i:02d}").write_bytes(os.urandom(1000 + i))
    (src / "large").write_bytes(os.urandom(40 << 20))
    with _proxy(store) as proxy:
        for _ in range(5):  # the engine's max_attempts
            for key in ("p/k03", "p/k31"):
                proxy.answer_once(_on_key(bucket, key, "PUT"), 500, "InternalError")
        for _ in range(40):
            proxy.answer_once(
                lambda r: r.method == "PUT" and "partNumber=" in r.target, 500, "InternalError"
            )
        proxy.answer_once(_on_key(bucket, "p/k17", "PUT"), 503, "SlowDown")
        run = _run(
            store, "cp", "-r", str(src), f"s3://{bucket}/p", "--json",
            SAFES3_ENDPOINT_URL=proxy.endpoint_url, SAFES3_CA_BUNDLE=proxy.ca_bundle_for_clients,
        )  # fmt: skip
    assert run.returncode == 1
    summary = _summary(run)
    failed = {str(src / n) for n in ("k03", "k31", "large")}
    assert set(summary["failed"]) == failed
    assert summary["retries"] >= 9
    err = run.stderr.decode()
    for name in failed:
        assert name in err
    stored = _keys(admin_s3, bucket)
    assert set(stored) == {f"p/k{i:02d}" for i in range(40)} - {"p/k03", "p/k31"}
    assert _assert_all_encrypted(store, admin_s3, bucket) == 38


def test_a_killed_copy_resumes_without_resending(
    store: StoreInfo, bucket: str, admin_s3: S3Client, tmp_path: Path
) -> None:
    """SIGKILL part-way, then the same command with the same state file: the proxy (relaying
    only) shows no PutObject for any object the first run recorded as finished."""
    src = tmp_path / "src"
    for i in range(600):
        (src / f"d{i % 6}").mkdir(parents=True, exist_ok=True)
        (src / f"d{i % 6}" / f"f{i:03d}").write_bytes(os.urandom(2000))
    state = tmp_path / "state.jsonl"
    args = ["cp", "-r", str(src), f"s3://{bucket}/r", "--state", str(state)]
    proc = subprocess.Popen(
        _cmd(store, *args, "--jobs", "2", "-q"), env=_env(store), stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if state.exists() and state.read_text().count('"done"') >= 100:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the first run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = {json.loads(x)["done"] for x in state.read_text().splitlines()[1:]}
    assert 100 <= len(done) < 600
    with _proxy(store) as proxy:
        again = _run(
            store, *args, "--json",
            SAFES3_ENDPOINT_URL=proxy.endpoint_url, SAFES3_CA_BUNDLE=proxy.ca_bundle_for_clients,
        )  # fmt: skip
        puts = {
            unquote(urlsplit(r.target).path).split("/", 2)[2]
            for r in proxy.relayed
            if r.method == "PUT"
        }
    assert again.returncode == 0, again.stderr
    assert _summary(again)["unchanged"] == len(done)
    assert puts.isdisjoint(f"r/{rel}" for rel in done)
    assert len(puts) == 600 - len(done)
    assert _assert_all_encrypted(store, admin_s3, bucket) == 600


_RSS = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True)
sys.stderr.buffer.write(done.stderr)
print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _peak_rss_kib(store: StoreInfo, *args: str) -> int:
    """Run the command in a fresh parent and return its exit status's peak RSS (KiB)."""
    proc = subprocess.run(
        [sys.executable, "-c", _RSS, *_cmd(store, *args)],
        capture_output=True,
        env=_env(store),
        timeout=600,
        check=False,
    )
    code, rss = proc.stdout.split()
    assert int(code) == 0, proc.stderr
    return int(rss)


def test_memory_stays_bounded_with_20000_tiny_files(
    store: StoreInfo, bucket: str, admin_s3: S3Client, tmp_path: Path
) -> None:
    """Peak RSS of a real child: 20,000 files need no more than 1,000 do, give or take
    16 MiB, and stay under the documented bound (interpreter + 256 MiB budget)."""
    small, large = tmp_path / "small", tmp_path / "large"
    for root, count in ((small, 1000), (large, 20_000)):
        for i in range(count):
            folder = root / f"d{i // 500:03d}"
            if i % 500 == 0:
                folder.mkdir(parents=True)
            (folder / f"f{i:05d}").write_bytes(b"%05d" % i)
    base = _peak_rss_kib(
        store, "cp", "-r", str(small), f"s3://{bucket}/small", "-q", "--jobs", "32"
    )
    big = _peak_rss_kib(store, "cp", "-r", str(large), f"s3://{bucket}/large", "-q", "--jobs", "32")
    noop = _peak_rss_kib(store, "sync", str(large), f"s3://{bucket}/large", "-q")
    print(f"peak RSS KiB: 1,000 files {base}, 20,000 files {big}, no-op sync {noop}")
    stored = _keys(admin_s3, bucket)
    _delete_quickly(admin_s3, bucket, list(stored))
    assert len(stored) == 21_000
    assert big - base < 16 * 1024, (base, big)
    assert noop - base < 32 * 1024, (base, noop)
    assert max(base, big, noop) < 400 * 1024, (base, big, noop)


def _delete_quickly(s3: S3Client, bucket: str, keys: list[str]) -> None:
    """DeleteObjects in batches: the fixture's one-by-one cleanup takes minutes for 21,000."""
    for i in range(0, len(keys), 1000):
        batch = [{"Key": k} for k in keys[i : i + 1000]]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})  # type: ignore[typeddict-item]
