"""How boto3's transfer arguments map onto the engine (pure functions, no store)."""

from __future__ import annotations

import pytest
from boto3.s3.transfer import TransferConfig
from s3transfer.manager import TransferManager

import safes3
from safes3._dropin import (
    ALLOWED_COPY,
    ALLOWED_DOWNLOAD,
    ALLOWED_UPLOAD,
    FULL_OBJECT_CHECKSUMS,
    check_extra,
    progress_for,
    settings_for,
    upload_extra,
)

MiB = 1 << 20


def test_allow_lists_cover_s3transfers() -> None:
    """Every ExtraArgs key the installed s3transfer accepts is allowed, or refused by name."""
    assert set(TransferManager.ALLOWED_UPLOAD_ARGS) <= ALLOWED_UPLOAD | FULL_OBJECT_CHECKSUMS
    assert set(TransferManager.ALLOWED_DOWNLOAD_ARGS) <= ALLOWED_DOWNLOAD
    assert set(TransferManager.ALLOWED_COPY_ARGS) <= ALLOWED_COPY
    assert ALLOWED_UPLOAD <= set(TransferManager.ALLOWED_UPLOAD_ARGS)
    assert ALLOWED_COPY <= set(TransferManager.ALLOWED_COPY_ARGS)


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
