"""A large upload through real and injected faults, and the memory bound.

Real network faults (tests/faultproxy.py, a TCP proxy in front of the store):
a connection reset in the middle of a part, and a stalled connection that
the client abandons at its read timeout.  Injected (botocore ``before-send``
answering instead of the network, faithful to the status and S3 error body a
store sends, not to its timing): one 503 SlowDown and one 500 InternalError.
The object is
generated on the fly and compared by CRC32C (the default part checksum with
awscrt installed) after a download, so the test holds neither copy in
memory; the pipe test uploads with CRC32 (zlib) to cover the other algorithm.
"""

from __future__ import annotations

import os
import threading
import tracemalloc
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from awscrt import checksums
from botocore.config import Config as BotocoreConfig

import safes3
from tests.clients import client_for
from tests.faultproxy import FaultProxy
from tests.httpproxy import HttpFaultProxy, Request
from tests.integration.test_transfers import answer, inject, part_number, part_puts, uploads_left
from tests.storeinfo import StoreInfo
from tests.wire import Sent

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.store

MiB = 1 << 20
PART = 8 * MiB
BLOCK = os.urandom(MiB)


def generated(total_mib: int) -> Iterator[bytes]:
    """Distinct 1 MiB blocks: the block with its index stamped in front."""
    for i in range(total_mib):
        yield i.to_bytes(8, "big") + BLOCK[8:]


def crc_of(total_mib: int) -> int:
    crc = 0
    for block in generated(total_mib):
        crc = checksums.crc32c(block, crc)
    return crc


class CrcSink:
    """A writable stream that keeps only the CRC32C and length of what it got."""

    def __init__(self) -> None:
        self.crc = 0
        self.size = 0

    def write(self, data: Any) -> int:
        self.crc = checksums.crc32c(bytes(data), self.crc)
        self.size += len(data)
        return len(data)


def test_a_large_upload_survives_resets_stalls_and_slowdowns(
    store: StoreInfo, admin_s3: S3Client, bucket: str
) -> None:
    total_mib = 320
    parsed = urlsplit(store.endpoint_url)
    assert parsed.hostname is not None
    assert parsed.port is not None
    with FaultProxy(parsed.hostname, parsed.port) as proxy:
        proxy.arm("reset", after=12 * MiB)
        proxy.arm("stall", after=28 * MiB)
        s3 = client_for(
            store,
            safes3.SSEC.generate(),
            endpoint_url=f"https://{parsed.hostname}:{proxy.port}",
            botocore_config=BotocoreConfig(connect_timeout=2, read_timeout=2),
        )
        refused: list[int] = []
        answers = {5: (503, "SlowDown"), 9: (500, "InternalError")}

        def refuse_parts_once(sent: Sent) -> Any:
            number = part_number(sent)
            if number in answers and number not in refused:
                refused.append(number)
                return answer(*answers[number])
            return None

        wire = inject(s3, refuse_parts_once)
        sleeps: list[float] = []
        settings = safes3.TransferSettings(part_size=PART, max_concurrency=4, sleep=sleeps.append)
        result = safes3.upload(
            s3, generated(total_mib), bucket, "big", settings=settings, size=total_mib * MiB
        )
        assert proxy.fired == ["reset", "stall"]
        assert sorted(refused) == [5, 9]
        assert result.size == total_mib * MiB
        assert result.parts == total_mib * MiB // PART
        assert result.retries >= 4
        assert len(sleeps) == result.retries
        assert result.bytes_resent == result.retries * PART
        sent_parts = part_puts(wire)
        assert len(sent_parts) == result.parts + result.retries
        assert sorted(set(sent_parts)) == list(range(1, result.parts + 1))
        assert uploads_left(admin_s3, bucket) == []

        sink = CrcSink()
        got = safes3.download(s3, bucket, "big", sink, settings=settings)  # type: ignore[arg-type]
    expected = crc_of(total_mib)
    assert (sink.size, sink.crc) == (total_mib * MiB, expected)
    assert result.checksum == got.checksum == safes3_b64(expected)
    assert result.checksum_algorithm == got.checksum_algorithm == "CRC32C"


def test_error_answers_on_the_wire_resend_only_their_parts(
    store: StoreInfo, admin_s3: S3Client, bucket: str
) -> None:
    """503 SlowDown and 500 InternalError sent as real HTTP responses on the socket.

    tests/httpproxy.py ends TLS, answers those two part requests itself (the
    store never sees them) and relays everything else to the store.
    """
    parsed = urlsplit(store.endpoint_url)
    assert parsed.hostname is not None
    assert parsed.port is not None
    total_mib = 48

    def part(number: int) -> Any:
        return lambda r: r.method == "PUT" and f"partNumber={number}&" in f"{r.target}&"

    with HttpFaultProxy(parsed.hostname, parsed.port, store.ca_bundle) as proxy:
        proxy.answer_once(part(2), 503, "SlowDown")
        proxy.answer_once(part(5), 500, "InternalError")
        s3 = client_for(
            store,
            safes3.SSEC.generate(),
            endpoint_url=proxy.endpoint_url,
            ca_bundle=proxy.ca_bundle_for_clients,
        )
        sleeps: list[float] = []
        settings = safes3.TransferSettings(part_size=PART, max_concurrency=2, sleep=sleeps.append)
        result = safes3.upload(
            s3, generated(total_mib), bucket, "wire", settings=settings, size=total_mib * MiB
        )
        assert [(parts_of(r), status) for r, status in proxy.answered] == [(2, 503), (5, 500)]
        relayed = sorted(parts_of(r) for r in proxy.relayed if r.method == "PUT")
        assert relayed == list(range(1, total_mib * MiB // PART + 1))
        assert (result.retries, result.bytes_resent, len(sleeps)) == (2, 2 * PART, 2)
        assert uploads_left(admin_s3, bucket) == []
        sink = CrcSink()
        safes3.download(s3, bucket, "wire", sink, settings=settings)  # type: ignore[arg-type]
    assert (sink.size, sink.crc) == (total_mib * MiB, crc_of(total_mib))


def parts_of(request: Request) -> int:
    query = dict(p.split("=", 1) for p in urlsplit(request.target).query.split("&") if "=" in p)
    return int(query.get("partNumber", "0"))


def test_peak_memory_of_a_short_reading_pipe_stays_within_the_bound(
    store: StoreInfo, bucket: str
) -> None:
    total_mib, part, concurrency = 160, 8 * MiB, 4
    read_fd, write_fd = os.pipe()
    crc = [0]

    def feed() -> None:
        with os.fdopen(write_fd, "wb", buffering=0) as pipe:
            for block in generated(total_mib):
                crc[0] = zlib.crc32(block, crc[0])
                view = memoryview(block)
                for i in range(0, len(view), 65536):
                    pipe.write(view[i : i + 65536])

    s3 = client_for(store, safes3.SSEKMS(store.kms_key_ids[0]))
    settings = safes3.TransferSettings(
        part_size=part, max_concurrency=concurrency, checksum_algorithm="CRC32"
    )
    writer = threading.Thread(target=feed)
    tracemalloc.start()
    try:
        writer.start()
        with os.fdopen(read_fd, "rb", buffering=0) as source:
            result = safes3.upload(s3, source, bucket, "piped", settings=settings)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        writer.join()
    assert result.size == total_mib * MiB
    assert (result.checksum_algorithm, result.checksum) == ("CRC32", safes3_b64(crc[0]))
    bound = part * (concurrency + 1) + 16 * MiB
    assert peak < bound, f"peak {peak / MiB:.1f} MiB exceeds {bound / MiB:.0f} MiB"
    assert peak < total_mib * MiB / 3


def safes3_b64(value: int) -> str:
    import base64

    return base64.b64encode(value.to_bytes(4, "big")).decode()
