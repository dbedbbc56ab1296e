"""Planning an upload: where it goes, its part size and algorithm, what a journal lets it skip.

:func:`plan` decides before the first byte is read: a fresh upload gets the
settings' algorithm and a part size that fits the known size in 10,000
parts; a journal whose upload the store still holds gives its own part size,
algorithm and upload id, and the parts that ListParts confirms (same ETag and
size) need not be sent again.  :func:`create` starts the multipart upload and
writes the journal's header before any part is sent.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from safes3._boundary import describe
from safes3._exceptions import TransferError
from safes3._transfer import _checksum as ck
from safes3._transfer._journal import DonePart, Journal
from safes3._transfer._retry import run
from safes3._transfer._settings import TransferSettings, part_size_for
from safes3._transfer._stats import TransferStats

__all__ = ["Plan", "Target", "create", "plan"]

T = TypeVar("T")

_EVERY_CALL = ("ExpectedBucketOwner", "RequestPayer")
"""``extra_args`` that every call of the upload carries, not only the first."""


@dataclass(frozen=True)
class Target:
    """The object being written and how every call of the upload is made."""

    s3: Any
    bucket: str
    key: str
    settings: TransferSettings
    extra: Mapping[str, Any]
    fingerprint: str
    stats: TransferStats

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def every(self) -> dict[str, Any]:
        return {k: self.extra[k] for k in _EVERY_CALL if k in self.extra}

    def call(self, fn: Callable[[], T], resend: int = 0) -> T:
        """``fn()`` with the retry policy; each retry counts ``resend`` bytes resent."""
        return run(self.settings, fn, self.stats.counter(resend))


@dataclass
class Plan:
    """How the parts are cut and checked, and the multipart upload they go to."""

    algo: ck.Algorithm
    part_size: int
    journal: Journal | None = None
    upload_id: str | None = None
    part_checksums: bool = False
    """The upload was created with ChecksumAlgorithm and the store echoed it."""
    resumable: dict[int, DonePart] = field(default_factory=dict)


def plan(target: Target, size: int | None, journal_path: str | os.PathLike[str] | None) -> Plan:
    """A resumed plan when ``journal_path`` holds an upload the store still has, else a new one."""
    journal = Journal.load(journal_path) if journal_path is not None else None
    if journal is not None:
        resumed = _resume(target, journal)
        if resumed is not None:
            return resumed
    return Plan(
        algo=ck.resolve(target.settings.checksum_algorithm),
        part_size=part_size_for(size, target.settings.part_size),
    )


def _resume(target: Target, journal: Journal) -> Plan | None:
    """The journal's plan with the parts the store still holds unchanged; None if it has none."""
    journal.check_matches(target.bucket, target.key, target.fingerprint)
    algorithm = ck.by_name(journal.check_algorithm(target.settings.checksum_algorithm))
    try:
        listed: dict[int, tuple[str, int]] = {}
        pages = target.s3.get_paginator("list_parts").paginate(
            Bucket=target.bucket, Key=target.key, UploadId=journal.upload_id, **target.every
        )
        for page in pages:
            for p in page.get("Parts", []):
                listed[p["PartNumber"]] = (p["ETag"], p["Size"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchUpload":
            journal.remove()
            return None
        raise TransferError(
            f"cannot list the parts of the journaled upload of {target.where}: "
            f"{describe(exc)}; retry later, or delete {journal.path} to start over"
        ) from exc
    keep = {n: p for n, p in journal.parts.items() if listed.get(n) == (p.etag, p.size)}
    journal.parts = dict(keep)
    return Plan(
        algo=algorithm,
        part_size=journal.part_size,
        journal=journal,
        upload_id=journal.upload_id,
        part_checksums=journal.part_checksums,
        resumable=keep,
    )


def create(
    target: Target, plan: Plan, journal_path: str | os.PathLike[str] | None, size: int | None
) -> None:
    """Start the multipart upload of ``plan``; journal it durably before any part is sent."""
    reply = target.call(
        lambda: target.s3.create_multipart_upload(
            Bucket=target.bucket, Key=target.key, ChecksumAlgorithm=plan.algo.name, **target.extra
        )
    )
    plan.upload_id = reply["UploadId"]
    plan.part_checksums = reply.get("ChecksumAlgorithm") == plan.algo.name
    if journal_path is not None:
        plan.journal = Journal(
            path=Path(journal_path),
            bucket=target.bucket,
            key=target.key,
            upload_id=reply["UploadId"],
            part_size=plan.part_size,
            size=size,
            encryption=target.fingerprint,
            part_checksums=plan.part_checksums,
            checksum_algorithm=plan.algo.name,
        )
        plan.journal.save()
