"""``safes3 cp s3://... FILE`` leaves the verified file or nothing (issue 12, defect 5).

Real processes against the live stores: the command is interrupted with
SIGINT (what Ctrl-C sends), killed with SIGKILL, or fails after its
retries.  To hold it in the middle of a download, ``tests/faultproxy.py``
(a TCP proxy, TLS passes through) stalls its connection after some MiB of
body; to make it fail, ``tests/httpproxy.py`` (TLS-terminating) answers
every ranged GET after the first with a real HTTP 500 InternalError, as a
failing store would.  What is asserted is what stays on disk.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from tests.faultproxy import FaultProxy
from tests.httpproxy import HttpFaultProxy, Request
from tests.integration.test_cli import _env
from tests.storeinfo import StoreInfo

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.store

MiB = 1 << 20
SIZE = 40 * MiB
"""More than one default range (32 MiB), so a failure can come after a range was written."""


def _object(admin_s3: S3Client, bucket: str) -> str:
    admin_s3.put_object(Bucket=bucket, Key="big.bin", Body=os.urandom(SIZE))
    return f"s3://{bucket}/big.bin"


def _start_cp(store: StoreInfo, url: str, out: Path, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "safes3", "cp", "-q", url, str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(store, **env),
    )


def _held_mid_download(
    store: StoreInfo, url: str, out: Path, proxy: FaultProxy
) -> subprocess.Popen[bytes]:
    """A cp whose connection the proxy stalled once 8 MiB of body had crossed it."""
    proxy.arm("stall", after=8 * MiB, direction="down")
    proc = _start_cp(store, url, out, SAFES3_ENDPOINT_URL=f"https://127.0.0.1:{proxy.port}")
    deadline = time.monotonic() + 60
    while not proxy.fired and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proxy.fired == ["stall"], proc.communicate()[1] if proc.poll() is not None else b""
    time.sleep(0.3)
    assert proc.poll() is None
    return proc


def _proxy(store: StoreInfo) -> FaultProxy:
    parsed = urlsplit(store.endpoint_url)
    assert parsed.hostname is not None
    assert parsed.port is not None
    return FaultProxy(parsed.hostname, parsed.port)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["sigint", "sigkill"])
def test_cp_stopped_mid_download_leaves_nothing_on_disk(
    store: StoreInfo, admin_s3: S3Client, bucket: str, tmp_path: Path, sig: signal.Signals
) -> None:
    url = _object(admin_s3, bucket)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with _proxy(store) as proxy:
        proc = _held_mid_download(store, url, out_dir / "big.bin", proxy)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=30)
    if sig == signal.SIGINT:
        assert proc.returncode == 130, stderr
        assert b"interrupted" in stderr
    else:
        assert proc.returncode == -signal.SIGKILL
    assert list(out_dir.iterdir()) == []


def test_cp_that_fails_after_its_retries_leaves_nothing_and_says_so(
    store: StoreInfo, admin_s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    url = _object(admin_s3, bucket)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "big.bin").write_bytes(b"the previous contents")
    parsed = urlsplit(store.endpoint_url)
    assert parsed.hostname is not None
    assert parsed.port is not None

    def later_range(request: Request) -> bool:
        rng = request.headers.get("range", "")
        return (
            request.method == "GET" and rng.startswith("bytes=") and not rng.startswith("bytes=0-")
        )

    with HttpFaultProxy(parsed.hostname, parsed.port, store.ca_bundle) as proxy:
        proxy.answer_once(later_range, 500, "InternalError", times=100)
        proc = _start_cp(
            store,
            url,
            out_dir / "big.bin",
            SAFES3_ENDPOINT_URL=proxy.endpoint_url,
            SAFES3_CA_BUNDLE=proxy.ca_bundle_for_clients,
        )
        _, stderr = proc.communicate(timeout=120)
        answered = len(proxy.answered)
        first_range_relayed = any(
            r.headers.get("range", "").startswith("bytes=0-") for r in proxy.relayed
        )
    assert proc.returncode == 1, stderr
    assert stderr.startswith(b"safes3: error:")
    assert b"InternalError" in stderr
    assert answered == 5
    assert first_range_relayed
    assert [p.name for p in out_dir.iterdir()] == ["big.bin"]
    assert (out_dir / "big.bin").read_bytes() == b"the previous contents"
