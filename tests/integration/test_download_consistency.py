"""Downloads under a concurrent writer and through real network faults, on the live stores.

Consistency (issue 12, defect 4): the object is overwritten by another
client, over HTTPS, while the download is in flight; the result must be one
version of the object, never a mix.  Faults (issue 17): ``tests/faultproxy.py``
is a TCP proxy in front of the store that cuts (FIN), resets (RST) or stalls
a connection once it has carried a given number of bytes towards the client,
so the response body really ends short on the socket, mid-TLS-record as it
happens.  The proxy never sees plaintext; it is faithful to what a network
does to a connection, nothing more.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from botocore.config import Config as BotocoreConfig
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import safes3
from safes3._transfer import _checksum as ck
from safes3._transfer import _rangeread
from tests.clients import client_for
from tests.faultproxy import FaultProxy
from tests.storeinfo import StoreInfo
from tests.wire import Wire

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.store

MiB = 1 << 20
PART = 5 * MiB
FAST = safes3.TransferSettings(
    part_size=PART, range_size=PART, max_concurrency=2, sleep=lambda _s: None
)


def versions(size: int) -> tuple[bytes, bytes]:
    """Two contents of one size that differ in every MiB."""
    return os.urandom(size), os.urandom(size)


def write_before_range(s3: Any, number: int, write: Callable[[], object]) -> list[int]:
    """Run ``write`` (another client's PUT) just before the ``number``-th ranged GET is sent.

    The writer runs in the downloading worker's thread, so the GETs before
    it certainly read the old object and this one certainly goes out after
    the store answered the PUT: the race is made to happen, not hoped for.
    """
    seen: list[int] = []

    def on_send(request: Any, **_: Any) -> None:
        if request.method == "GET" and "Range" in request.headers:
            seen.append(1)
            if len(seen) == number:
                write()

    s3.meta.events.register("before-send.s3.GetObject", on_send)
    return seen


def test_an_object_replaced_mid_download_is_fetched_again_never_mixed(
    store: StoreInfo, admin_s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    """The object is replaced after the first ranges were read; the file is all new."""
    old, new = versions(4 * PART + 1234)
    admin_s3.put_object(Bucket=bucket, Key="obj", Body=old)
    s3 = client_for(store, safes3.SSEKMS(store.kms_key_ids[0]))
    wire = Wire().attach(s3)
    write_before_range(s3, 3, lambda: admin_s3.put_object(Bucket=bucket, Key="obj", Body=new))
    target = tmp_path / "out.bin"
    got = safes3.download(s3, bucket, "obj", target, settings=FAST)
    assert target.read_bytes() == new
    assert got.bytes_refetched > 0
    assert list(tmp_path.iterdir()) == [target]
    etags = {admin_s3.head_object(Bucket=bucket, Key="obj")["ETag"]}
    gets = [s for s in wire.where("GET") if s.header("range")]
    assert all(s.header("if-match") for s in gets)
    assert {s.header("if-match") for s in gets[-got.ranges :]} == etags


def test_to_a_stream_a_replaced_object_is_refused_after_a_prefix_of_one_version(
    store: StoreInfo, admin_s3: S3Client, bucket: str
) -> None:
    old, new = versions(4 * PART)
    admin_s3.put_object(Bucket=bucket, Key="obj", Body=old)
    s3 = client_for(store, safes3.SSEKMS(store.kms_key_ids[0]))
    out = io.BytesIO()
    write_before_range(s3, 3, lambda: admin_s3.put_object(Bucket=bucket, Key="obj", Body=new))
    with pytest.raises(safes3.ObjectChangedError, match=r"replaced|changed"):
        safes3.download(s3, bucket, "obj", out, settings=FAST)
    written = out.getvalue()
    assert 0 < len(written) < len(old)
    assert written == old[: len(written)]


def test_under_a_writer_that_never_stops_each_download_is_one_version_or_nothing(
    store: StoreInfo, bucket: str, tmp_path: Path
) -> None:
    """A second client rewrites the object in a loop while downloads run."""
    contents = versions(3 * PART)
    writer_s3 = client_for(store, safes3.SSEKMS(store.kms_key_ids[0]))
    writer_s3.put_object(Bucket=bucket, Key="obj", Body=contents[0])
    stop = threading.Event()
    writes = [0]

    def write_forever() -> None:
        while not stop.is_set():
            writes[0] += 1
            writer_s3.put_object(Bucket=bucket, Key="obj", Body=contents[writes[0] % 2])

    s3 = client_for(store, safes3.SSEKMS(store.kms_key_ids[0]))
    outcomes: list[str] = []
    writer = threading.Thread(target=write_forever)
    writer.start()
    try:
        for i in range(4):
            target = tmp_path / f"out{i}.bin"
            try:
                safes3.download(s3, bucket, "obj", target, settings=FAST)
            except safes3.ObjectChangedError:
                assert not target.exists()
                outcomes.append("refused")
            else:
                assert target.read_bytes() in contents
                outcomes.append("whole")
    finally:
        stop.set()
        writer.join()
    assert writes[0] >= 2
    assert len(outcomes) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"out{i}.bin" for i, o in enumerate(outcomes) if o == "whole"
    )


def test_on_a_versioned_bucket_the_version_first_seen_is_the_one_downloaded(
    store: StoreInfo, admin_s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    admin_s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old, new = versions(3 * PART + 7)
    first = admin_s3.put_object(Bucket=bucket, Key="obj", Body=old)
    s3 = client_for(store, safes3.SSEKMS(store.kms_key_ids[0]))
    wire = Wire().attach(s3)
    write_before_range(s3, 2, lambda: admin_s3.put_object(Bucket=bucket, Key="obj", Body=new))
    target = tmp_path / "out.bin"
    got = safes3.download(s3, bucket, "obj", target, settings=FAST)
    assert target.read_bytes() == old
    assert got.bytes_refetched == 0
    gets = [s for s in wire.where("GET") if s.header("range")]
    assert len(gets) == got.ranges
    assert all(f"versionId={first['VersionId']}" in s.url for s in gets)


def _ranges(wire: Wire) -> list[str]:
    return [str(s.header("range")) for s in wire.where("GET") if s.header("range")]


def test_to_a_path_each_worker_reads_one_long_range_and_a_stream_reads_parts(
    store: StoreInfo, admin_s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    """By default a file is read in one range per worker (each GET costs the store work).

    Ranges are whole MiB, at least ``part_size``; a ``range_size`` fixes
    them; a stream, which buffers whole ranges, keeps ``part_size``.
    """
    size = 23 * MiB + 5
    data = os.urandom(size)
    admin_s3.put_object(Bucket=bucket, Key="obj", Body=data)
    s3 = client_for(store, safes3.SSEKMS(store.kms_key_ids[0]))
    three = safes3.TransferSettings(part_size=PART, max_concurrency=3)
    cases = [
        (three, [(0, 8 * MiB), (8 * MiB, 16 * MiB), (16 * MiB, size)]),
        (safes3.TransferSettings(part_size=PART, max_concurrency=1), [(0, size)]),
        (
            safes3.TransferSettings(part_size=PART, range_size=10 * MiB, max_concurrency=3),
            [(0, 10 * MiB), (10 * MiB, 20 * MiB), (20 * MiB, size)],
        ),
        (
            safes3.TransferSettings(part_size=16 * MiB, max_concurrency=3),
            [(0, 16 * MiB), (16 * MiB, size)],
        ),
    ]
    for chosen, spans in cases:
        wire = Wire().attach(s3)
        target = tmp_path / "out.bin"
        got = safes3.download(s3, bucket, "obj", target, settings=chosen)
        assert target.read_bytes() == data
        assert sorted(_ranges(wire)) == sorted(f"bytes={a}-{b - 1}" for a, b in spans)
        assert got.ranges == len(spans)
        assert all(s.header("if-match") for s in wire.where("GET"))
    wire = Wire().attach(s3)
    stream = io.BytesIO()
    safes3.download(s3, bucket, "obj", stream, settings=three)
    assert stream.getvalue() == data
    assert sorted(_ranges(wire)) == sorted(
        f"bytes={a}-{min(a + PART, size) - 1}" for a in range(0, size, PART)
    )


def test_a_file_is_written_in_pieces_of_at_most_256_kib(
    store: StoreInfo,
    admin_s3: S3Client,
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Large page-cache writes were measured to cost far more CPU (see ``_fetchers.WRITE``)."""
    data = os.urandom(3 * MiB + 17)
    admin_s3.put_object(Bucket=bucket, Key="obj", Body=data)
    s3 = client_for(store, safes3.SSEKMS(store.kms_key_ids[0]))
    sizes: list[int] = []
    real = os.pwrite

    def pwrite(fd: int, view: Any, offset: int) -> int:
        sizes.append(len(view))
        return real(fd, view, offset)

    monkeypatch.setattr(os, "pwrite", pwrite)
    target = tmp_path / "out.bin"
    safes3.download(s3, bucket, "obj", target)
    assert target.read_bytes() == data
    assert sum(sizes) == len(data)
    assert max(sizes) == 256 * 1024


def _through(proxy: FaultProxy, store: StoreInfo, **config: Any) -> Any:
    return client_for(
        store,
        safes3.SSEKMS(store.kms_key_ids[0]),
        endpoint_url=f"https://127.0.0.1:{proxy.port}",
        botocore_config=BotocoreConfig(connect_timeout=2, read_timeout=2, **config),
    )


def _proxy(store: StoreInfo) -> FaultProxy:
    parsed = urlsplit(store.endpoint_url)
    assert parsed.hostname is not None
    assert parsed.port is not None
    return FaultProxy(parsed.hostname, parsed.port)


@pytest.mark.parametrize(
    "chosen",
    [FAST, safes3.TransferSettings(part_size=PART, max_concurrency=2, sleep=lambda _s: None)],
    ids=["part-ranges", "one-long-range-per-worker"],
)
def test_ranges_cut_reset_and_stalled_mid_body_are_resumed_exactly(
    store: StoreInfo,
    admin_s3: S3Client,
    bucket: str,
    tmp_path: Path,
    chosen: safes3.TransferSettings,
) -> None:
    """One retry per fault, and no more: a connection that ended early was not pooled again.

    Were a half-read connection handed back to urllib3's pool, the next range
    sent on it would read the rest of the old body as its answer and fail,
    costing retries beyond the three faults.  The default for a file, one
    long range per worker, is resumed from the byte where it was cut too.
    """
    data = os.urandom(8 * PART + 99)
    admin_s3.put_object(Bucket=bucket, Key="obj", Body=data)
    target = tmp_path / "out.bin"
    with _proxy(store) as proxy:
        proxy.arm("cut", after=3 * MiB, direction="down")
        proxy.arm("reset", after=6 * MiB, direction="down")
        proxy.arm("stall", after=9 * MiB, direction="down")
        got = safes3.download(_through(proxy, store), bucket, "obj", target, settings=chosen)
        assert proxy.fired == ["cut", "reset", "stall"]
    assert target.read_bytes() == data
    assert got.ranges == (9 if chosen is FAST else 2)
    assert got.retries == 3
    assert got.bytes_refetched == 0
    assert list(tmp_path.iterdir()) == [target]


def test_a_fully_read_range_returns_its_connection_and_a_short_one_does_not(
    store: StoreInfo, admin_s3: S3Client, bucket: str
) -> None:
    """The accounting below StreamingBody: checked on urllib3's real connection objects."""
    admin_s3.put_object(Bucket=bucket, Key="obj", Body=b"x" * 300_000)
    s3 = client_for(store, safes3.SSEKMS(store.kms_key_ids[0]))
    reply = s3.get_object(Bucket=bucket, Key="obj", Range="bytes=0-199999")
    raw: Any = reply["Body"]
    conn = raw._raw_stream.connection
    body = _rangeread.RangeBody(reply["Body"], 200_000)
    assert body.direct
    buffer = bytearray(200_000)
    assert _rangeread.read_into(body, memoryview(buffer), ck.CRC32)[0] == 200_000
    assert body.close() is True
    again = s3.get_object(Bucket=bucket, Key="obj", Range="bytes=0-99")
    reused: Any = again["Body"]
    assert reused._raw_stream.connection is conn
    partly = _rangeread.RangeBody(again["Body"], 100)
    assert partly.readinto(memoryview(bytearray(10))) == 10
    assert partly.close() is False
    assert conn.sock is None
    third = s3.get_object(Bucket=bucket, Key="obj", Range="bytes=0-9")
    assert third["Body"].read() == b"x" * 10


@pytest.fixture
def boundary_object(bucket: str) -> tuple[str, bytes]:
    return bucket, os.urandom(2 * PART + 3)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    size=st.one_of(
        st.integers(0, 3),
        st.sampled_from([PART - 1, PART, PART + 1, 2 * PART, 2 * PART + 3]),
    ),
    chunk=st.integers(4093, 70_000),
    cut_at=st.integers(1, 11 * MiB),
    to_stream=st.booleans(),
)
def test_any_range_boundary_with_a_cut_anywhere_gives_the_exact_bytes(
    store: StoreInfo,
    admin_s3: S3Client,
    boundary_object: tuple[str, bytes],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    size: int,
    chunk: int,
    cut_at: int,
    to_stream: bool,
) -> None:
    """Object sizes on and around the range boundaries, reads of any chunk size, a cut anywhere.

    Each object is a prefix of one random blob, put by the admin client.
    """
    bucket, blob = boundary_object
    data = blob[:size]
    admin_s3.put_object(Bucket=bucket, Key=f"o{size}", Body=data)
    monkeypatch.setattr(_rangeread, "CHUNK", chunk)
    with _proxy(store) as proxy:
        proxy.arm("cut", after=cut_at, direction="down")
        s3 = _through(proxy, store)
        if to_stream:
            out = io.BytesIO()
            got = safes3.download(s3, bucket, f"o{size}", out, settings=FAST)
            result = out.getvalue()
        else:
            target = tmp_path / f"o{size}-{chunk}-{cut_at}"
            got = safes3.download(s3, bucket, f"o{size}", target, settings=FAST)
            result = target.read_bytes()
    assert result == data
    assert got.size == size
    assert got.retries == (1 if proxy.fired else 0)


def test_an_exception_from_progress_cancels_the_download_and_keeps_nothing(
    store: StoreInfo, admin_s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    """Cancellation as before: the callback's exception comes out, no file, ranges left unsent."""
    admin_s3.put_object(Bucket=bucket, Key="obj", Body=os.urandom(6 * PART))
    s3 = client_for(store, safes3.SSEKMS(store.kms_key_ids[0]))
    wire = Wire().attach(s3)

    class Stop(Exception):
        pass

    def stop_after_a_mib(done: int, _total: int | None) -> None:
        if done >= MiB:
            raise Stop

    with pytest.raises(Stop):
        safes3.download(
            s3, bucket, "obj", tmp_path / "out.bin", settings=FAST, progress=stop_after_a_mib
        )
    assert list(tmp_path.iterdir()) == []
    assert len(wire.where("GET")) < 6
