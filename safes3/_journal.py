"""The resume journal: enough to continue a multipart upload in a new process.

It is a small JSON file rewritten atomically after every finished part:
bucket, key, upload id, part plan, the part checksum algorithm and, per
finished part, its number, size, ETag and CRC.  It identifies the encryption
only by a fingerprint (the SSE-C key's MD5, or the KMS key id): never key
material.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from safes3._encryption import SSEC, SSEKMS, Encryption
from safes3._exceptions import TransferError

__all__ = ["DonePart", "Journal", "encryption_fingerprint"]

_VERSION = 1


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
            raw = json.loads(where.read_text())
            if raw.get("version") != _VERSION:
                raise ValueError(f"version {raw.get('version')!r}")
            parts = {int(p["number"]): _part(p) for p in raw["parts"]}
            return cls(
                path=where,
                bucket=raw["bucket"],
                key=raw["key"],
                upload_id=raw["upload_id"],
                part_size=int(raw["part_size"]),
                size=raw["size"],
                encryption=raw["encryption"],
                part_checksums=bool(raw.get("part_checksums", False)),
                checksum_algorithm=str(raw.get("checksum_algorithm", "CRC32")),
                parts=parts,
            )
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            raise TransferError(
                f"the transfer journal {where} is unreadable ({exc}); delete it to start over"
            ) from exc

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
        self.parts[part.number] = part
        self.save()

    def save(self) -> None:
        """Write atomically: a crash leaves the old or the new journal, never half of one."""
        body: dict[str, Any] = {
            "version": _VERSION,
            "bucket": self.bucket,
            "key": self.key,
            "upload_id": self.upload_id,
            "part_size": self.part_size,
            "size": self.size,
            "encryption": self.encryption,
            "part_checksums": self.part_checksums,
            "checksum_algorithm": self.checksum_algorithm,
            "parts": [asdict(self.parts[n]) for n in sorted(self.parts)],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w") as out:
                json.dump(body, out)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def _part(raw: dict[str, Any]) -> DonePart:
    crc = raw["crc"] if "crc" in raw else raw["crc32"]
    return DonePart(number=int(raw["number"]), size=int(raw["size"]), etag=raw["etag"], crc=crc)
