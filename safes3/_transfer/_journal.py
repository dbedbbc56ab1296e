"""The resume journal: enough to continue a multipart upload in a new process.

A JSON-lines file, appended to and never rewritten: a header line (bucket,
key, upload id, part plan, the part checksum algorithm) and then one line
per finished part (number, size, ETag, CRC); a later line for the same part
wins.  Writing it costs one short append per part, whatever the number of
parts.  It identifies the encryption only by a fingerprint (the SSE-C key's
MD5, or the KMS key id): never key material.

Crash safety.  The header is written to a temporary file, fsynced, renamed
into place and the directory fsynced, before the first part is sent: it
alone names the upload to resume (or abort), so it must survive a power
cut.  Each part line is written with one ``write`` and fsynced before the
next part is recorded: a killed process loses nothing, a power cut at most
the line being written, whose part is then simply sent again (every listed
part is also checked against ListParts on resume).  A torn last line (no
newline: the crash came mid-write) is ignored and cut off on load; a
damaged line before the last one is not a crash artefact and is refused.
Journals written by earlier versions (one JSON document) are read too.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from safes3._core._encryption import SSEC, SSEKMS, Encryption
from safes3._exceptions import TransferError
from safes3._transfer import _jsonlines as jsonlines

__all__ = ["DonePart", "Journal", "encryption_fingerprint"]

_VERSION = 2


def encryption_fingerprint(encryption: Encryption) -> str:
    """Names the key without revealing it: SSE-C key MD5, KMS key id, or the mode."""
    if isinstance(encryption, SSEC):
        return f"SSE-C:{encryption.fingerprint}"
    if isinstance(encryption, SSEKMS):
        return f"SSE-KMS:{encryption.key_id}"
    return encryption.mode


@dataclass(frozen=True, slots=True)
class DonePart:
    number: int
    size: int
    etag: str
    crc: int
    """The part's CRC under the journal's ``checksum_algorithm``."""


@dataclass(kw_only=True)
class Journal:
    """One multipart upload in progress, as persisted at ``path``."""

    path: Path
    bucket: str
    key: str
    upload_id: str
    part_size: int
    size: int | None
    encryption: str
    part_checksums: bool = False
    """The upload was created with ChecksumAlgorithm and the store echoed it."""
    checksum_algorithm: str = "CRC32"
    """``CRC32`` or ``CRC32C``: journals written before the field existed used CRC32."""
    parts: dict[int, DonePart] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Journal | None:
        """The journal at ``path``, or None when there is none."""
        where = Path(path)
        try:
            raw = where.read_bytes()
        except FileNotFoundError:
            return None
        try:
            entries = jsonlines.read(where, raw, whole_document=True)
            if not entries:
                raise ValueError("no header line (the header is renamed into place whole)")
            head = entries[0]
            if head.get("version") == 1:
                entries = [head] + [{"part": p} for p in head["parts"]]
            elif head.get("version") != _VERSION:
                raise ValueError(f"version {head.get('version')!r}")
            parts = {}
            for entry in entries[1:]:
                part = _part(entry["part"])
                parts[part.number] = part
            journal = cls(
                path=where,
                bucket=head["bucket"],
                key=head["key"],
                upload_id=head["upload_id"],
                part_size=int(head["part_size"]),
                size=head["size"],
                encryption=head["encryption"],
                part_checksums=bool(head.get("part_checksums", False)),
                checksum_algorithm=str(head.get("checksum_algorithm", "CRC32")),
                parts=parts,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise TransferError(
                f"the transfer journal {where} is unreadable ({exc}); delete it to start over"
            ) from exc
        if head.get("version") == 1:
            journal.save()
        return journal

    def check_matches(self, bucket: str, key: str, encryption: str) -> None:
        """Refuse to resume an upload of another object or under another key."""
        if (self.bucket, self.key) != (bucket, key):
            raise TransferError(
                f"the journal {self.path} belongs to s3://{self.bucket}/{self.key}, not "
                f"s3://{bucket}/{key}; use another journal path"
            )
        if self.encryption != encryption:
            raise TransferError(
                f"the journal {self.path} was written under encryption {self.encryption}, "
                f"but this client uses {encryption}; resume with the same key, or delete "
                "the journal (and abort its upload) to start over"
            )

    def check_algorithm(self, wanted: str) -> str:
        """The algorithm to resume with: the journal's, unless another was asked for."""
        if wanted not in ("auto", self.checksum_algorithm):
            raise TransferError(
                f"the journal {self.path} was written with {self.checksum_algorithm} part "
                f"checksums, but checksum_algorithm={wanted!r} was asked for; resume with "
                f"'auto' or {self.checksum_algorithm!r}, or delete the journal (and abort its "
                "upload) to start over"
            )
        return self.checksum_algorithm

    def record(self, part: DonePart) -> None:
        """Append the part's line (one write, then fsync)."""
        jsonlines.append(self.path, {"part": asdict(part)})
        self.parts[part.number] = part

    def save(self) -> None:
        """Write the header and the known parts as a new file, atomically and durably."""
        head: dict[str, Any] = {
            "version": _VERSION,
            "bucket": self.bucket,
            "key": self.key,
            "upload_id": self.upload_id,
            "part_size": self.part_size,
            "size": self.size,
            "encryption": self.encryption,
            "part_checksums": self.part_checksums,
            "checksum_algorithm": self.checksum_algorithm,
        }
        parts = [{"part": asdict(self.parts[n])} for n in sorted(self.parts)]
        jsonlines.replace(self.path, [head, *parts])

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def _part(raw: dict[str, Any]) -> DonePart:
    crc = raw["crc"] if "crc" in raw else raw["crc32"]
    return DonePart(number=int(raw["number"]), size=int(raw["size"]), etag=raw["etag"], crc=crc)
