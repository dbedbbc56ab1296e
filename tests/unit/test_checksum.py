"""Part checksums: both algorithms against known vectors and a bitwise reference,
combine and the composite form, and how the algorithm is chosen."""

from __future__ import annotations

import os

import pytest

from safes3 import ConfigurationError, TransferSettings
from safes3._transfer import _checksum as ck

DATA = os.urandom(64 * 1024 + 7)
ALGORITHMS = [ck.CRC32, ck.CRC32C]


def reference(polynomial: int, data: bytes, value: int = 0) -> int:
    """A bitwise reflected CRC: slow, obviously correct, independent of zlib and awscrt."""
    crc = value ^ 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (polynomial if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def test_known_vectors() -> None:
    assert ck.CRC32.compute(b"123456789") == 0xCBF43926
    assert ck.CRC32C.compute(b"123456789") == 0xE3069283
    assert ck.b64(ck.CRC32.compute(b"hello")) == "NhCmhg=="
    assert ck.unb64("NhCmhg==") == ck.CRC32.compute(b"hello")


@pytest.mark.parametrize("algo", ALGORITHMS, ids=lambda a: a.name)
def test_compute_matches_the_reference_for_every_buffer_type(algo: ck.Algorithm) -> None:
    small = DATA[:3000]
    want = reference(algo.polynomial, small)
    assert algo.compute(small) == want
    assert algo.compute(bytearray(small)) == want
    assert algo.compute(memoryview(bytearray(DATA))[:3000]) == want
    assert algo.compute(small[1000:], algo.compute(small[:1000])) == want


@pytest.mark.parametrize("algo", ALGORITHMS, ids=lambda a: a.name)
@pytest.mark.parametrize("cut", [0, 1, 4096, len(DATA) - 1, len(DATA)])
def test_combine_equals_the_crc_of_the_concatenation(algo: ck.Algorithm, cut: int) -> None:
    a, b = DATA[:cut], DATA[cut:]
    assert algo.combine(algo.compute(a), algo.compute(b), len(b)) == algo.compute(DATA)


@pytest.mark.parametrize("algo", ALGORITHMS, ids=lambda a: a.name)
def test_combining_equal_parts_in_order_gives_the_whole(algo: ck.Algorithm) -> None:
    size = 5000
    parts = [DATA[i : i + size] for i in range(0, len(DATA), size)]
    full = 0
    for part in parts:
        full = algo.combine(full, algo.compute(part), len(part))
    assert full == algo.compute(DATA)


@pytest.mark.parametrize("algo", ALGORITHMS, ids=lambda a: a.name)
def test_composite_is_the_crc_of_the_part_crcs(algo: ck.Algorithm) -> None:
    crcs = [algo.compute(DATA[:100]), algo.compute(DATA[100:])]
    raw = b"".join(c.to_bytes(4, "big") for c in crcs)
    assert algo.composite(crcs) == f"{ck.b64(reference(algo.polynomial, raw))}-2"


def test_names_as_s3_spells_them() -> None:
    assert (ck.CRC32C.name, ck.CRC32C.param) == ("CRC32C", "ChecksumCRC32C")
    assert ck.CRC32.param == "ChecksumCRC32"


def test_auto_prefers_crc32c_when_awscrt_is_installed() -> None:
    assert ck.fast_available()
    assert ck.resolve("auto") is ck.CRC32C
    assert ck.resolve("CRC32") is ck.CRC32
    assert TransferSettings(checksum_algorithm="CRC32C").checksum_algorithm == "CRC32C"


def test_without_awscrt_auto_is_crc32_and_crc32c_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ck, "_crt", None)
    assert ck.resolve("auto") is ck.CRC32
    with pytest.raises(ConfigurationError, match=r"pip install 'safes3\[fast\]'"):
        ck.resolve("CRC32C")
    with pytest.raises(ConfigurationError, match="awscrt"):
        TransferSettings(checksum_algorithm="CRC32C")
    with pytest.raises(ConfigurationError, match="awscrt"):
        ck.CRC32C.compute(b"x")


def test_unknown_algorithms_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="'auto', 'CRC32' or 'CRC32C'"):
        TransferSettings(checksum_algorithm="SHA256")  # type: ignore[arg-type]
