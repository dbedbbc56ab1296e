"""The transfer engine's pure parts: part reader and body, range reads, part sizes,
settings, retry policy."""

from __future__ import annotations

import http.client
import io
import os
import ssl
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError, SSLError

from safes3 import ConfigurationError, TransferError, TransferSettings
from safes3._transfer import _checksum as ck
from safes3._transfer._parts import PartBody, PartReader
from safes3._transfer._rangeread import read_into as _read_into
from safes3._transfer._retry import RetryableError, is_retryable, run
from safes3._transfer._settings import MAX_PART, MAX_PARTS, MIN_PART, part_size_for

MiB = 1 << 20
DATA = os.urandom(3 * MiB + 123)


class Trickle:
    """A pipe-like stream: ``read(n)`` returns at most ``step`` bytes."""

    def __init__(self, data: bytes, step: int) -> None:
        self._inner = io.BytesIO(data)
        self.step = step
        self.largest_request = 0

    def read(self, n: int = -1) -> bytes:
        self.largest_request = max(self.largest_request, n)
        return self._inner.read(min(n, self.step))


def parts_of(reader: PartReader, size: int) -> list[bytes]:
    out = []
    buffer = bytearray(size)
    while n := reader.fill(memoryview(buffer)):
        out.append(bytes(buffer[:n]))
    return out


@pytest.mark.parametrize("step", [1, 4097, 65536, 5 * MiB])
def test_short_reads_still_fill_whole_parts(step: int) -> None:
    source = Trickle(DATA, step) if step > 1 else Trickle(DATA[:10_000], 1)
    data = DATA if step > 1 else DATA[:10_000]
    got = parts_of(PartReader(source), MiB)
    assert b"".join(got) == data
    assert all(len(p) == MiB for p in got[:-1])
    assert source.largest_request <= MiB


@pytest.mark.parametrize(
    "make",
    [
        lambda: Trickle(DATA, 65536),
        lambda: Trickle(DATA, 3 * MiB),
        lambda: iter([DATA[:10], DATA[10 : 2 * MiB + 7], DATA[2 * MiB + 7 :]]),
        lambda: io.BytesIO(DATA),
    ],
    ids=["pipe", "large-reads", "iterator", "file"],
)
def test_fill_checked_crc_is_the_crc_of_each_part(make: Any) -> None:
    reader = PartReader(make())
    buffer = memoryview(bytearray(2 * MiB + 5))
    seen = []
    while True:
        n, crc = reader.fill_checked(buffer, ck.CRC32.compute)
        if not n:
            break
        assert crc == zlib.crc32(buffer[:n])
        seen.append(bytes(buffer[:n]))
    assert b"".join(seen) == DATA


def test_read_only_streams_are_read_in_small_chunks() -> None:
    source = Trickle(DATA, 10 * MiB)
    parts_of(PartReader(source), 2 * MiB)
    assert source.largest_request <= MiB


def test_iterator_chunks_larger_and_smaller_than_parts() -> None:
    chunks = [DATA[:10], DATA[10 : 2 * MiB + 7], DATA[2 * MiB + 7 :]]
    got = parts_of(PartReader(iter(chunks)), MiB)
    assert b"".join(got) == DATA
    assert [len(p) for p in got] == [MiB, MiB, MiB, 123]


def test_paths_files_and_bytes_know_their_size(tmp_path: Any) -> None:
    path = tmp_path / "f"
    path.write_bytes(DATA)
    with PartReader(path) as by_path:
        assert by_path.size == len(DATA)
        assert b"".join(parts_of(by_path, MiB)) == DATA
    with open(path, "rb") as f:
        f.seek(100)
        reader = PartReader(f)
        assert reader.size == len(DATA) - 100
        assert b"".join(parts_of(reader, MiB)) == DATA[100:]
    assert PartReader(DATA).size == len(DATA)
    assert PartReader(Trickle(DATA, 10)).size is None


def test_given_size_limits_reading_and_detects_a_short_source() -> None:
    assert b"".join(parts_of(PartReader(Trickle(DATA, 999), size=1000), MiB)) == DATA[:1000]
    with pytest.raises(TransferError, match="ended after 123 bytes"):
        parts_of(PartReader(io.BytesIO(DATA[:123]), size=1000), MiB)


def test_text_streams_and_other_objects_are_refused() -> None:
    with pytest.raises(TransferError, match="binary mode"):
        PartReader(io.StringIO("text")).fill(memoryview(bytearray(10)))
    with pytest.raises(TransferError, match="cannot upload from a int"):
        PartReader(42)
    with pytest.raises(TransferError, match="yielded str"):
        PartReader(iter(["text"])).fill(memoryview(bytearray(10)))


def test_part_size_grows_so_any_object_fits_in_10000_parts() -> None:
    assert part_size_for(100 * MiB, 8 * MiB) == 8 * MiB
    for size in (80_000 * MiB + 1, 1 << 40, 5 << 40):
        chosen = part_size_for(size, 8 * MiB)
        assert chosen % MiB == 0
        assert MIN_PART <= chosen <= MAX_PART
        assert -(-size // chosen) <= MAX_PARTS
    with pytest.raises(ConfigurationError, match="5 TiB"):
        part_size_for((5 << 40) + 1, 8 * MiB)


def test_unknown_size_parts_double_every_900_and_reach_5_tib() -> None:
    sizes = [part_size_for(None, 5 * MiB, n) for n in range(1, MAX_PARTS + 1)]
    assert sizes[0] == sizes[899] == 5 * MiB
    assert sizes[900] == 10 * MiB
    assert max(sizes) <= MAX_PART
    assert sum(sizes) >= 5 << 40


def test_settings_are_validated_and_frozen() -> None:
    with pytest.raises(ConfigurationError, match="part_size"):
        TransferSettings(part_size=MiB)
    with pytest.raises(ConfigurationError, match="max_concurrency"):
        TransferSettings(max_concurrency=0)
    with pytest.raises(ConfigurationError, match="max_attempts"):
        TransferSettings(max_attempts=0)
    for bad in (MiB, 6 << 30, 8.0 * MiB, True):
        with pytest.raises(ConfigurationError, match="range_size"):
            TransferSettings(range_size=bad)  # type: ignore[arg-type]
    assert TransferSettings(range_size=5 * MiB).range_size == 5 * MiB
    assert TransferSettings().range_size is None
    with pytest.raises(TypeError):
        TransferSettings(8 * MiB)  # type: ignore[call-arg]
    with pytest.raises(AttributeError):
        TransferSettings().part_size = 1  # type: ignore[misc]


def client_error(code: str, status: int) -> ClientError:
    response: Any = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "UploadPart")


def test_what_is_retried() -> None:
    assert is_retryable(client_error("SlowDown", 503))
    assert is_retryable(client_error("InternalError", 500))
    assert is_retryable(client_error("RequestTimeout", 400))
    assert is_retryable(ConnectionClosedError(endpoint_url="https://x"))
    assert is_retryable(ReadTimeoutError(endpoint_url="https://x"))
    assert is_retryable(ConnectionResetError())
    assert is_retryable(RetryableError("bad echo"))
    assert not is_retryable(client_error("AccessDenied", 403))
    assert not is_retryable(client_error("NoSuchUpload", 404))
    cut = ssl.SSLEOFError(8, "EOF occurred in violation of protocol")
    assert is_retryable(SSLError(endpoint_url="https://x", error=cut))
    refused = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED]")
    assert not is_retryable(SSLError(endpoint_url="https://x", error=refused))
    assert not is_retryable(ValueError("bug"))


def test_retries_back_off_with_jitter_within_bounds_and_stop() -> None:
    sleeps: list[float] = []
    settings = TransferSettings(
        max_attempts=4, backoff_initial=1.0, backoff_max=3.0, sleep=sleeps.append
    )
    retried: list[int] = []
    calls = iter([client_error("SlowDown", 503)] * 3 + [None])

    def flaky() -> str:
        error = next(calls)
        if error is not None:
            raise error
        return "ok"

    assert run(settings, flaky, lambda attempt, _e: retried.append(attempt)) == "ok"
    assert retried == [1, 2, 3]
    assert len(sleeps) == 3
    assert all(0 <= s <= 3.0 for s in sleeps)

    sleeps.clear()
    with pytest.raises(ClientError, match="InternalError"):
        run(settings, _always(client_error("InternalError", 500)), lambda *_: None)
    assert len(sleeps) == 3


def test_non_retryable_errors_are_raised_at_once() -> None:
    sleeps: list[float] = []
    with pytest.raises(ClientError, match="AccessDenied"):
        run(
            TransferSettings(sleep=sleeps.append),
            _always(client_error("AccessDenied", 403)),
            lambda *_: None,
        )
    assert sleeps == []


def _always(error: Exception) -> Any:
    def call() -> Iterator[None]:
        raise error

    return call


def test_part_body_hands_out_the_rest_in_one_piece_and_rewinds() -> None:
    buffer = bytearray(b"0123456789")
    body = PartBody(memoryview(buffer)[:8])
    assert len(body) == 8
    assert bytes(body.read(3)) == b"01234567"
    assert (len(body), bytes(body.read(3))) == (0, b"")
    assert body.seek(0) == 0
    target = bytearray(5)
    assert body.readinto(memoryview(target)) == 5
    assert (bytes(target), body.tell(), len(body)) == (b"01234", 5, 3)
    assert body.seek(-1, io.SEEK_END) == 7
    assert body.seek(2, io.SEEK_CUR) == 8
    assert body.seekable()
    assert body.readable()


def test_ranges_are_read_into_the_buffer_with_their_crc() -> None:
    buffer = bytearray(6000)
    got = _read_into(io.BytesIO(DATA[:5000]), memoryview(buffer)[:5000], ck.CRC32)
    assert got == (5000, zlib.crc32(DATA[:5000]))
    assert buffer[:5000] == DATA[:5000]


def test_a_range_cut_short_comes_back_short() -> None:
    got = _read_into(io.BytesIO(DATA[:100]), memoryview(bytearray(5000)), ck.CRC32)
    assert got == (100, zlib.crc32(DATA[:100]))


def test_a_broken_connection_mid_range_is_retryable() -> None:
    class Broken:
        def readinto(self, _view: memoryview) -> int:
            raise http.client.IncompleteRead(b"", 10)

    with pytest.raises(RetryableError, match="mid-range"):
        _read_into(Broken(), memoryview(bytearray(10)), ck.CRC32)


def test_long_ranges_are_checksummed_chunk_by_chunk_to_the_same_crc() -> None:
    big = DATA * 3
    buffer = bytearray(len(big))
    assert _read_into(io.BytesIO(big), memoryview(buffer), ck.CRC32) == (len(big), zlib.crc32(big))
    assert buffer == big
