"""The resume journal: round trip, atomic rewrite, no key material, refusals."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from safes3 import SSEC, SSEKMS, SSES3, TransferError
from safes3._transfer._journal import DonePart, Journal, encryption_fingerprint


def make(path: Path, key: SSEC) -> Journal:
    return Journal(
        path=path,
        bucket="b",
        key="k",
        upload_id="up-1",
        part_size=8 << 20,
        size=None,
        encryption=encryption_fingerprint(key),
        part_checksums=True,
        checksum_algorithm="CRC32C",
    )


def test_round_trip_keeps_parts_and_never_key_material(tmp_path: Path) -> None:
    raw = bytes(range(32))
    key = SSEC(raw)
    journal = make(tmp_path / "j.json", key)
    journal.save()
    journal.record(DonePart(number=2, size=10, etag='"e2"', crc=7))
    journal.record(DonePart(number=1, size=10, etag='"e1"', crc=9))
    text = (tmp_path / "j.json").read_text()
    assert base64.b64encode(raw).decode() not in text
    assert raw.hex() not in text
    assert key.fingerprint in text
    loaded = Journal.load(tmp_path / "j.json")
    assert loaded is not None
    assert loaded.parts == journal.parts
    assert loaded.upload_id == "up-1"
    assert loaded.part_checksums
    assert loaded.checksum_algorithm == "CRC32C"
    assert [p.name for p in tmp_path.iterdir()] == ["j.json"]


def test_missing_journal_is_none_and_garbage_is_refused(tmp_path: Path) -> None:
    assert Journal.load(tmp_path / "none.json") is None
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(TransferError, match="delete it to start over"):
        Journal.load(tmp_path / "bad.json")


def test_resuming_with_another_key_or_object_is_refused(tmp_path: Path) -> None:
    journal = make(tmp_path / "j.json", SSEC.generate())
    with pytest.raises(TransferError, match="same key"):
        journal.check_matches("b", "k", encryption_fingerprint(SSEC.generate()))
    with pytest.raises(TransferError, match="belongs to s3://b/k"):
        journal.check_matches("b", "other", journal.encryption)
    journal.check_matches("b", "k", journal.encryption)


def test_journals_from_before_the_algorithm_field_resume_as_crc32(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "bucket": "b",
                "key": "k",
                "upload_id": "u",
                "part_size": 8 << 20,
                "size": None,
                "encryption": "SSE-S3",
                "parts": [{"number": 1, "size": 5, "etag": '"e"', "crc32": 42}],
            }
        )
    )
    loaded = Journal.load(path)
    assert loaded is not None
    assert loaded.checksum_algorithm == "CRC32"
    assert loaded.parts == {1: DonePart(number=1, size=5, etag='"e"', crc=42)}


def test_resuming_under_another_checksum_algorithm_is_refused(tmp_path: Path) -> None:
    journal = make(tmp_path / "j.json", SSEC.generate())
    assert journal.check_algorithm("auto") == "CRC32C"
    assert journal.check_algorithm("CRC32C") == "CRC32C"
    with pytest.raises(TransferError, match=r"written with CRC32C .*delete the journal"):
        journal.check_algorithm("CRC32")


def test_fingerprints_name_keys_without_revealing_them() -> None:
    assert encryption_fingerprint(SSES3()) == "SSE-S3"
    assert encryption_fingerprint(SSEKMS("alias/k")) == "SSE-KMS:alias/k"
    key = SSEC.generate()
    assert encryption_fingerprint(key) == f"SSE-C:{key.fingerprint}"


def test_recording_a_part_appends_one_line_and_rewrites_nothing(tmp_path: Path) -> None:
    journal = make(tmp_path / "j.json", SSEC.generate())
    journal.save()
    for n in range(1, 40):
        before = journal.path.read_bytes()
        journal.record(DonePart(number=n, size=10, etag=f'"e{n}"', crc=n))
        after = journal.path.read_bytes()
        assert after.startswith(before)
        assert after[len(before) :].count(b"\n") == 1


def test_a_torn_last_line_is_ignored_at_every_cut(tmp_path: Path) -> None:
    journal = make(tmp_path / "j.json", SSEC.generate())
    journal.save()
    journal.record(DonePart(number=1, size=10, etag='"e1"', crc=1))
    whole = journal.path.read_bytes()
    journal.record(DonePart(number=2, size=10, etag='"e2"', crc=2))
    last = journal.path.read_bytes()[len(whole) :]
    for cut in range(1, len(last)):
        journal.path.write_bytes(whole + last[:cut])
        loaded = Journal.load(journal.path)
        assert loaded is not None
        assert sorted(loaded.parts) == [1]
        assert journal.path.read_bytes() == whole  # cut off, so the next append is clean
        loaded.record(DonePart(number=2, size=10, etag='"e2"', crc=2))
        again = Journal.load(journal.path)
        assert again is not None
        assert sorted(again.parts) == [1, 2]


def test_a_damaged_line_before_the_last_is_refused(tmp_path: Path) -> None:
    journal = make(tmp_path / "j.json", SSEC.generate())
    journal.save()
    journal.record(DonePart(number=1, size=10, etag='"e1"', crc=1))
    journal.record(DonePart(number=2, size=10, etag='"e2"', crc=2))
    lines = journal.path.read_bytes().split(b"\n")
    lines[1] = lines[1][:5]
    journal.path.write_bytes(b"\n".join(lines))
    with pytest.raises(TransferError, match="line 2 is damaged"):
        Journal.load(journal.path)
