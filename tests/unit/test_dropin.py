"""How boto3's transfer arguments map onto the engine (pure functions, no store)."""

from __future__ import annotations

import threading

import pytest
from boto3.s3.transfer import TransferConfig
from s3transfer.manager import TransferManager

import safes3
from safes3._transfer._dropin import (
    ALLOWED_COPY,
    ALLOWED_DOWNLOAD,
    ALLOWED_UPLOAD,
    FULL_OBJECT_CHECKSUMS,
    check_extra,
    progress_for,
    settings_for,
    upload_extra,
)
from safes3._transfer._relay import Relay

MiB = 1 << 20


def test_allow_lists_cover_s3transfers() -> None:
    """Every ExtraArgs key the installed s3transfer accepts is allowed, or refused by name."""
    assert set(TransferManager.ALLOWED_UPLOAD_ARGS) <= ALLOWED_UPLOAD | FULL_OBJECT_CHECKSUMS
    assert set(TransferManager.ALLOWED_DOWNLOAD_ARGS) <= ALLOWED_DOWNLOAD
    assert set(TransferManager.ALLOWED_COPY_ARGS) <= ALLOWED_COPY


def test_extra_args_refusals() -> None:
    assert check_extra({"ContentType": "a"}, ALLOWED_UPLOAD) == {"ContentType": "a"}
    for name in ("ACL", "GrantRead", "GrantFullControl"):
        with pytest.raises(safes3.ACLRefusedError, match=name):
            check_extra({name: "x"}, ALLOWED_UPLOAD)
    with pytest.raises(ValueError, match="Invalid extra_args key 'Nope'"):
        check_extra({"Nope": 1}, ALLOWED_UPLOAD)
    with pytest.raises(safes3.ConfigurationError, match="ChecksumCRC32"):
        upload_extra({"ChecksumCRC32": "AAAAAA=="})
    with pytest.raises(safes3.ConfigurationError, match="SHA256"):
        upload_extra({"ChecksumAlgorithm": "SHA256"})
    assert upload_extra({"ChecksumAlgorithm": "crc32", "Metadata": {}}) == (
        {"Metadata": {}},
        "CRC32",
    )


def test_unset_config_fields_keep_the_engines_defaults() -> None:
    engine = safes3.TransferSettings()
    assert settings_for(None) == engine
    assert settings_for(TransferConfig()) == engine
    only_threads = settings_for(TransferConfig(max_concurrency=3))
    assert (only_threads.part_size, only_threads.max_concurrency) == (engine.part_size, 3)


def test_config_fields_map_to_settings() -> None:
    got = settings_for(
        TransferConfig(multipart_chunksize=16 * MiB, max_concurrency=100, num_download_attempts=50)
    )
    assert (got.part_size, got.max_concurrency, got.max_attempts) == (16 * MiB, 64, 20)
    assert got.range_size == 16 * MiB
    assert settings_for(TransferConfig(multipart_chunksize=1024)).part_size == 5 * MiB
    assert settings_for(TransferConfig(use_threads=False, max_concurrency=8)).max_concurrency == 1
    below = settings_for(TransferConfig(multipart_threshold=100 * MiB), size=60 * MiB)
    assert below.part_size == 60 * MiB + 1
    above = settings_for(TransferConfig(multipart_threshold=10 * MiB), size=60 * MiB)
    assert above.part_size == safes3.TransferSettings().part_size
    assert settings_for(None, checksum="CRC32").checksum_algorithm == "CRC32"
    with pytest.raises(safes3.ConfigurationError, match="max_bandwidth"):
        settings_for(TransferConfig(max_bandwidth=1000))


def test_callback_gets_increments_only_when_bytes_grow() -> None:
    calls: list[int] = []
    progress = progress_for(calls.append)
    assert progress is not None
    for done in (0, 5, 5, 12, 3, 12, 20):
        progress(done, 20)
    assert calls == [5, 7, 8]
    assert progress_for(None) is None


@pytest.mark.parametrize("failure", [None, safes3.IntegrityError("source does not match")])
def test_relay_hands_over_the_last_bytes_only_after_the_source_verified(
    failure: Exception | None,
) -> None:
    relay = Relay(10)
    order: list[str] = []

    def source() -> None:
        relay.write(b"01234")
        relay.write(memoryview(b"56789"))
        order.append("verified")
        relay.finish(failure)

    writer = threading.Thread(target=source)
    writer.start()
    target = bytearray(10)
    assert relay.readinto(memoryview(target)[:5]) == 5
    if failure is None:
        assert relay.readinto(memoryview(target)[5:]) == 5
        order.append("last bytes read")
        assert relay.readinto(memoryview(target)) == 0
        assert bytes(target) == b"0123456789"
        assert order == ["verified", "last bytes read"]
    else:
        with pytest.raises(safes3.IntegrityError, match="does not match"):
            relay.readinto(memoryview(target)[5:])
    writer.join()


def test_relay_cancels_the_source_when_the_upload_stops() -> None:
    relay = Relay(1 << 30)
    relay.close()
    with pytest.raises(safes3.TransferError, match="cancelled"):
        relay.write(b"x")
