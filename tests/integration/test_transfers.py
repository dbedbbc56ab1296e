"""safes3.upload / safes3.download against the live stores.

What reached the wire is read from a ``before-send`` recorder; what the store
holds is read back with plain boto3 (``admin_s3``).  Server errors (500,
503 SlowDown) are injected at the botocore level: a ``before-send`` handler
answers instead of the network, so the request never leaves the process.
Real network faults are in ``test_transfer_faults.py``.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import os
import signal
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest
from awscrt import checksums
from botocore.awsrequest import AWSResponse, HTTPHeaders

import safes3
from safes3._transfer import _checksum as ck
from safes3._transfer._journal import Journal
from safes3._transfer._rangeread import read_into as _read_into
from tests.clients import client_for
from tests.storeinfo import StoreInfo
from tests.wire import Sent, Wire

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.store

MiB = 1 << 20
PART = 5 * MiB
DATA = os.urandom(3 * PART + 12345)
FAST = safes3.TransferSettings(
    part_size=PART, range_size=PART, max_concurrency=3, sleep=lambda _s: None
)


class Trickle:
    """A pipe-like source whose ``read(n)`` returns short reads."""

    def __init__(self, data: bytes, step: int = 65_537) -> None:
        self._inner = io.BytesIO(data)
        self._step = step

    def read(self, n: int = -1) -> bytes:
        return self._inner.read(min(n, self._step))


class Calls:
    """A progress callback that records its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int | None]] = []

    def __call__(self, done: int, total: int | None) -> None:
        self.calls.append((done, total))


def encryptions(store: StoreInfo) -> list[safes3.Encryption]:
    return [safes3.SSEC.generate(), safes3.SSEKMS(store.kms_key_ids[0])]


def part_number(sent: Sent) -> int | None:
    query = parse_qs(urlsplit(sent.url).query)
    return int(query["partNumber"][0]) if "partNumber" in query else None


def part_puts(wire: Wire) -> list[int]:
    return [n for s in wire.where("PUT", "uploadId=") if (n := part_number(s)) is not None]


def uploads_left(admin_s3: S3Client, bucket: str) -> list[Any]:
    return admin_s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


def answer(status: int, code: str) -> AWSResponse:
    body = f"<Error><Code>{code}</Code><Message>injected</Message></Error>".encode()
    return AWSResponse("https://injected", status, HTTPHeaders(), _Raw(body))


def refuse_part_once(
    number: int, status: int, code: str, refused: list[int]
) -> Callable[[Sent], AWSResponse | None]:
    """A ``decide`` for :func:`inject`: answer part ``number``'s first send with an error."""

    def decide(sent: Sent) -> AWSResponse | None:
        if part_number(sent) == number and not refused:
            refused.append(number)
            return answer(status, code)
        return None

    return decide


def inject(s3: Any, decide: Callable[[Sent], AWSResponse | None]) -> Wire:
    """Record every request; answer those ``decide`` picks instead of sending them."""
    wire = Wire()

    def on_send(request: Any, **_: Any) -> AWSResponse | None:
        wire.record(request)
        return decide(wire.sent[-1])

    s3.meta.events.register("before-send.s3", on_send)
    return wire


def test_multipart_upload_and_download_with_each_encryption(
    store: StoreInfo, admin_s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    keeps_checksums = store.extra["profile"] == "seaweedfs"
    for enc, (setting, algorithm) in zip(
        encryptions(store), [("auto", "CRC32C"), ("CRC32", "CRC32")], strict=True
    ):
        s3 = client_for(store, enc)
        wire = Wire().attach(s3)
        seen = Calls()
        settings = dataclasses.replace(FAST, checksum_algorithm=setting)  # type: ignore[arg-type]
        result = safes3.upload(
            s3,
            Trickle(DATA),
            bucket,
            "obj",
            settings=settings,
            progress=seen,
        )
        assert (result.size, result.parts, result.retries, result.bytes_resent) == (
            len(DATA),
            4,
            0,
            0,
        )
        assert (result.checksum_algorithm, result.checksum) == (algorithm, b64crc(DATA, algorithm))
        assert seen.calls[-1] == (len(DATA), None)
        assert len(seen.calls) == 4
        uploads = wire.where("PUT", "uploadId=")
        assert sorted(part_puts(wire)) == [1, 2, 3, 4]
        other = "x-amz-checksum-crc32" if algorithm == "CRC32C" else "x-amz-checksum-crc32c"
        for sent in uploads:
            number = part_number(sent)
            assert number is not None
            part = DATA[(number - 1) * PART : number * PART]
            assert sent.header(f"x-amz-checksum-{algorithm.lower()}") == b64crc(part, algorithm)
            assert sent.header(other) is None
            if isinstance(enc, safes3.SSEC):
                assert sent.header("x-amz-server-side-encryption-customer-key-md5") == enc.key_md5
        (create,) = wire.where("POST", "?uploads")
        assert create.header("x-amz-checksum-algorithm") == algorithm
        assert uploads_left(admin_s3, bucket) == []

        head_args: dict[str, Any] = {}
        if isinstance(enc, safes3.SSEC):
            head_args = dict(enc.customer_params)
        stored = admin_s3.head_object(Bucket=bucket, Key="obj", ChecksumMode="ENABLED", **head_args)
        assert stored["ContentLength"] == len(DATA)
        if isinstance(enc, safes3.SSEKMS):
            assert stored.get("ServerSideEncryption") == "aws:kms"
        if keeps_checksums:
            parts = [DATA[i : i + PART] for i in range(0, len(DATA), PART)]
            assert stored.get(f"Checksum{algorithm}") == composite(parts, algorithm)

        target = tmp_path / "out.bin"
        got = safes3.download(
            s3,
            bucket,
            "obj",
            target,
            settings=FAST,
            checksum=result.checksum,
            checksum_algorithm=result.checksum_algorithm,
        )
        assert target.read_bytes() == DATA
        assert got.verified == algorithm.lower()
        assert (got.checksum_algorithm, got.checksum) == (algorithm, result.checksum)
        stream = io.BytesIO()
        got = safes3.download(s3, bucket, "obj", stream, settings=FAST)
        assert stream.getvalue() == DATA
        assert got.checksum_algorithm == (algorithm if keeps_checksums else "CRC32C")
        assert got.verified == (f"composite-{algorithm.lower()}" if keeps_checksums else "length")
        gets = [s for s in wire.where("GET") if s.header("range")]
        assert len(gets) >= 8
        if isinstance(enc, safes3.SSEC):
            assert all(
                s.header("x-amz-server-side-encryption-customer-key-md5") == enc.key_md5
                for s in gets
            )


def test_small_objects_go_up_in_one_checksummed_put(store: StoreInfo, bucket: str) -> None:
    s3 = client_for(store, safes3.SSEC.generate())
    wire = Wire().attach(s3)
    result = safes3.upload(s3, iter([b"abc", b"def"]), bucket, "small", settings=FAST)
    assert (result.parts, result.checksum_algorithm) == (1, "CRC32C")
    assert result.checksum == b64crc(b"abcdef", "CRC32C")
    (put,) = wire.where("PUT", "/small")
    assert put.header("x-amz-checksum-crc32c") == b64crc(b"abcdef", "CRC32C")
    assert put.header("x-amz-checksum-crc32") is None
    assert wire.where("POST") == []
    out = io.BytesIO()
    got = safes3.download(s3, bucket, "small", out, checksum=result.checksum)
    assert (out.getvalue(), got.verified) == (b"abcdef", "crc32c")
    out = io.BytesIO()
    got = safes3.download(
        s3, bucket, "small", out, checksum=b64crc(b"abcdef", "CRC32"), checksum_algorithm="CRC32"
    )
    assert (out.getvalue(), got.verified, got.checksum_algorithm) == (b"abcdef", "crc32", "CRC32")


def test_ranges_are_read_with_a_running_crc(store: StoreInfo, bucket: str) -> None:
    s3 = client_for(store, safes3.SSEKMS(store.kms_key_ids[0]))
    safes3.upload(s3, b"abcdef", bucket, "small")
    body: Any = s3.get_object(Bucket=bucket, Key="small", Range="bytes=1-4")["Body"]
    buffer = bytearray(4)
    assert _read_into(body, memoryview(buffer), ck.CRC32) == (4, zlib.crc32(b"bcde"))
    assert buffer == b"bcde"
    body.close()


def test_without_awscrt_a_crc32c_check_is_refused_not_skipped(
    store: StoreInfo, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3 = client_for(store, safes3.SSEC.generate())
    result = safes3.upload(s3, DATA[:1000], bucket, "obj")
    assert result.checksum_algorithm == "CRC32C"
    monkeypatch.setattr(ck, "_crt", None)
    target = tmp_path / "out.bin"
    with pytest.raises(safes3.ConfigurationError, match=r"safes3\[fast\]"):
        safes3.download(
            s3, bucket, "obj", target, checksum=result.checksum, checksum_algorithm="CRC32C"
        )
    if store.extra["profile"] == "seaweedfs":
        with pytest.raises(safes3.ConfigurationError, match=r"carries a CRC32C checksum"):
            safes3.download(s3, bucket, "obj", target)
    assert list(tmp_path.iterdir()) == []
    got = safes3.download(
        s3, bucket, "obj", target, checksum=b64crc(DATA[:1000], "CRC32"), checksum_algorithm="CRC32"
    )
    assert (target.read_bytes(), got.verified) == (DATA[:1000], "crc32")


def test_injected_slowdown_resends_only_that_part(
    store: StoreInfo, admin_s3: S3Client, bucket: str
) -> None:
    s3 = client_for(store, safes3.SSEC.generate())
    wire = inject(s3, refuse_part_once(2, 503, "SlowDown", []))
    result = safes3.upload(s3, DATA, bucket, "obj", settings=FAST)
    assert sorted(part_puts(wire)) == [1, 2, 2, 3, 4]
    assert (result.retries, result.bytes_resent) == (1, PART)
    assert uploads_left(admin_s3, bucket) == []
    out = io.BytesIO()
    got = safes3.download(s3, bucket, "obj", out, checksum=result.checksum)
    assert (out.getvalue(), got.verified) == (DATA, "crc32c")


def test_an_expired_token_mid_upload_is_renewed_and_the_part_resent_once(
    store: StoreInfo, admin_s3: S3Client, bucket: str
) -> None:
    """ExpiredToken on one part: the expiry hook (not the engine's retry) resends it.

    The engine turns botocore's own retries off for its parts; this shows the
    one-shot expiry retry still runs first for them.  The ExpiredToken answer
    is injected at ``before-send`` (faithful to the status and code a store
    sends; real expiry would take 15 minutes).  That resend happens inside
    botocore, which reports it in ``RetryAttempts``; the result counts it.
    """
    s3 = client_for(store, safes3.SSEKMS(store.kms_key_ids[0]))
    refused: list[int] = []
    wire = inject(s3, refuse_part_once(2, 400, "ExpiredToken", refused))
    result = safes3.upload(s3, DATA, bucket, "obj", settings=FAST)
    assert refused == [2]
    assert sorted(part_puts(wire)) == [1, 2, 2, 3, 4]
    assert (result.retries, result.bytes_resent) == (1, PART)
    assert uploads_left(admin_s3, bucket) == []
    out = io.BytesIO()
    safes3.download(s3, bucket, "obj", out, checksum=result.checksum)
    assert out.getvalue() == DATA


def test_an_expired_token_on_a_single_put_is_counted_as_a_resend(
    store: StoreInfo, bucket: str
) -> None:
    s3 = client_for(store, safes3.SSEKMS(store.kms_key_ids[0]))
    refused: list[str] = []

    def decide(sent: Sent) -> AWSResponse | None:
        if sent.method == "PUT" and not refused:
            refused.append(sent.url)
            return answer(400, "ExpiredToken")
        return None

    wire = inject(s3, decide)
    result = safes3.upload(s3, DATA[:1000], bucket, "small", settings=FAST)
    assert len(refused) == 1
    assert len(wire.where("PUT", "/small")) == 2
    assert (result.parts, result.retries, result.bytes_resent) == (1, 1, 1000)
    assert s3.get_object(Bucket=bucket, Key="small")["Body"].read() == DATA[:1000]


def test_a_part_that_keeps_failing_aborts_the_upload(
    store: StoreInfo, admin_s3: S3Client, bucket: str
) -> None:
    s3 = client_for(store, safes3.SSEKMS(store.kms_key_ids[0]))
    sleeps: list[float] = []
    settings = safes3.TransferSettings(part_size=PART, max_attempts=3, sleep=sleeps.append)
    wire = inject(s3, lambda s: answer(500, "InternalError") if part_number(s) == 3 else None)
    with pytest.raises(safes3.TransferError, match="part 3 failed after 3 attempt") as caught:
        safes3.upload(s3, Trickle(DATA), bucket, "obj", settings=settings)
    assert "aborted" in str(caught.value)
    assert part_puts(wire).count(3) == 3
    assert len(sleeps) == 2
    assert wire.where("DELETE", "uploadId=")
    assert uploads_left(admin_s3, bucket) == []
    assert admin_s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


class Interrupted(Exception):
    """Stands in for the process dying after some parts."""


def test_an_interrupted_upload_resumes_from_its_journal(
    store: StoreInfo, admin_s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    key = safes3.SSEC.generate()
    journal = tmp_path / "upload.journal"

    def stop_after_two(done: int, _total: int | None) -> None:
        if done >= 2 * PART:
            raise Interrupted

    first = client_for(store, key)
    with pytest.raises(Interrupted):
        safes3.upload(
            first, DATA, bucket, "obj", settings=FAST, journal=journal, progress=stop_after_two
        )
    loaded = Journal.load(journal)
    assert loaded is not None
    done = sorted(loaded.parts)
    assert len(done) >= 2
    assert loaded.checksum_algorithm == "CRC32C"
    assert key.fingerprint in journal.read_text()
    assert key.customer_params["SSECustomerKey"] not in journal.read_text()
    assert len(uploads_left(admin_s3, bucket)) == 1

    with pytest.raises(safes3.TransferError, match="same key"):
        safes3.upload(
            client_for(store, safes3.SSEC.generate()), DATA, bucket, "obj", journal=journal
        )

    crc32 = dataclasses.replace(FAST, checksum_algorithm="CRC32")
    with pytest.raises(safes3.TransferError, match="written with CRC32C part checksums"):
        safes3.upload(client_for(store, key), DATA, bucket, "obj", settings=crc32, journal=journal)
    assert journal.exists()

    second = client_for(store, key)
    wire = Wire().attach(second)
    result = safes3.upload(second, Trickle(DATA), bucket, "obj", settings=FAST, journal=journal)
    assert wire.where("GET", "uploadId=")
    assert sorted(part_puts(wire)) == [n for n in range(1, 5) if n not in done]
    assert result.parts_resumed == len(done)
    assert result.parts == 4
    assert not journal.exists()
    assert uploads_left(admin_s3, bucket) == []
    assert result.checksum == b64crc(DATA, "CRC32C")
    out = io.BytesIO()
    safes3.download(second, bucket, "obj", out, checksum=result.checksum)
    assert out.getvalue() == DATA


def test_a_download_that_does_not_match_is_refused(
    store: StoreInfo, bucket: str, tmp_path: Path
) -> None:
    s3 = client_for(store, safes3.SSEC.generate())
    safes3.upload(s3, DATA[:1000], bucket, "obj")
    target = tmp_path / "out.bin"
    with pytest.raises(safes3.IntegrityError, match=r"does not match.*checksum_algorithm="):
        safes3.download(s3, bucket, "obj", target, checksum=b64crc(DATA[:1000], "CRC32"))
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def crc(data: bytes, algorithm: str) -> int:
    """The CRC as zlib or awscrt compute it, not through safes3."""
    return zlib.crc32(data) if algorithm == "CRC32" else checksums.crc32c(data)


def b64crc(data: bytes, algorithm: str) -> str:
    return base64.b64encode(crc(data, algorithm).to_bytes(4, "big")).decode()


def composite(parts: list[bytes], algorithm: str) -> str:
    raw = b"".join(crc(p, algorithm).to_bytes(4, "big") for p in parts)
    return f"{b64crc(raw, algorithm)}-{len(parts)}"


_KILLED_CHILD = """
import base64, os, signal, sys
import safes3
from tests.clients import client_for
from tests.storeinfo import StoreInfo

store = StoreInfo.load(sys.argv[1])
key = safes3.SSEC(base64.b64decode(os.environ["TEST_SSEC_KEY"]))
part = int(sys.argv[5])

def die_after_two(done, _total):
    if done >= 2 * part:
        os.kill(os.getpid(), signal.SIGKILL)

safes3.upload(
    client_for(store, key), sys.argv[2], sys.argv[3], "obj",
    settings=safes3.TransferSettings(part_size=part, max_concurrency=1),
    journal=sys.argv[4], progress=die_after_two,
)
"""


def test_a_killed_process_resumes_from_its_journal(
    store: StoreInfo, admin_s3: S3Client, bucket: str, tmp_path: Path
) -> None:
    """SIGKILL, not an exception: nothing in the dying process gets to clean up."""
    raw_key = os.urandom(32)
    key = safes3.SSEC(raw_key)
    source = tmp_path / "source.bin"
    source.write_bytes(DATA)
    journal = tmp_path / "upload.journal"
    env = {
        **os.environ,
        "TEST_SSEC_KEY": base64.b64encode(raw_key).decode(),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    argv = [store.path, str(source), bucket, str(journal), str(PART)]
    child = subprocess.run(
        [sys.executable, "-c", _KILLED_CHILD, *argv],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    recorded = Journal.load(journal)
    assert recorded is not None
    done = sorted(recorded.parts)
    assert 2 <= len(done) < 4
    assert len(uploads_left(admin_s3, bucket)) == 1

    s3 = client_for(store, key)
    wire = Wire().attach(s3)
    result = safes3.upload(s3, source, bucket, "obj", settings=FAST, journal=journal)
    assert sorted(part_puts(wire)) == [n for n in range(1, 5) if n not in done]
    assert result.parts_resumed == len(done)
    assert uploads_left(admin_s3, bucket) == []
    assert not journal.exists()
    out = io.BytesIO()
    safes3.download(s3, bucket, "obj", out, checksum=result.checksum)
    assert out.getvalue() == DATA
