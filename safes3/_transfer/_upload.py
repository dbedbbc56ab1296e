"""Streaming multipart upload through a guarded client.

The pieces: :mod:`safes3._transfer._uploadplan` decides part size, algorithm and what
a journal lets the upload skip; :mod:`safes3._transfer._uploadpipe` reads the source
into a bounded set of part buffers and sends them on workers;
:mod:`safes3._transfer._uploadpolicy` says what a failure does (abort or keep, which
error); :mod:`safes3._transfer._stats` counts what it cost.  This module ties
them together in the caller's thread: one PutObject for a small source,
otherwise the parts, the journal and progress as parts finish, the
completion and the read-back check (:mod:`safes3._transfer._stored`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.client import BaseClient

from safes3._transfer import _checksum as ck
from safes3._transfer._engineclient import engine_client
from safes3._transfer._journal import DonePart, encryption_fingerprint
from safes3._transfer._parts import PartReader, Source
from safes3._transfer._settings import TransferSettings
from safes3._transfer._stats import TransferStats
from safes3._transfer._stored import StoredObject, verify_stored
from safes3._transfer._uploadcalls import abort, complete, put_single, send_part
from safes3._transfer._uploadpipe import FirstPart, PartPipeline
from safes3._transfer._uploadplan import Plan, Target, create, plan
from safes3._transfer._uploadpolicy import StoreFailure, translate, verdict

__all__ = ["UploadResult", "upload"]

Progress = Callable[[int, "int | None"], None]


@dataclass(frozen=True, kw_only=True)
class UploadResult:
    """What an upload did.

    ``checksum`` is the whole object's CRC under ``checksum_algorithm``
    (``"CRC32C"`` or ``"CRC32"``; base64, as in ``x-amz-checksum-crc32c``),
    whatever the store supports: pass both to :func:`safes3.download` to
    verify a download end to end.
    ``bytes_sent`` counts each part once; ``bytes_resent`` the extra bytes
    that retries put on the wire; ``parts_resumed`` the parts a journal let
    this call skip.
    """

    bucket: str
    key: str
    size: int
    parts: int
    bytes_sent: int
    bytes_resent: int
    retries: int
    checksum: str
    checksum_algorithm: ck.AlgorithmName
    etag: str | None
    version_id: str | None
    parts_resumed: int = 0


def upload(
    s3: BaseClient,
    source: Source,
    bucket: str,
    key: str,
    *,
    settings: TransferSettings | None = None,
    size: int | None = None,
    progress: Progress | None = None,
    journal: str | os.PathLike[str] | None = None,
    extra_args: Mapping[str, Any] | None = None,
) -> UploadResult:
    """Upload ``source`` to ``s3://bucket/key`` with bounded memory and per-part retries.

    ``source`` is a path, bytes, a binary file or stream (short reads are
    fine), or an iterable of bytes; ``size`` is needed only to avoid the
    part-size growth used for streams of unknown length.  ``progress(done,
    total)`` is called from this thread as parts finish.  With ``journal``,
    an upload interrupted by the caller's side (an exception from the source
    or the progress callback, KeyboardInterrupt, the process dying) can be
    continued by calling ``upload`` again with the same journal and source;
    a store failure after all retries aborts the upload and removes the
    journal.  ``extra_args`` go to PutObject/CreateMultipartUpload (e.g.
    ``ContentType``, ``Metadata``); ``ExpectedBucketOwner`` and
    ``RequestPayer`` among them go to every call of the upload.
    """
    policy = engine_client(s3, "safes3.upload()")
    with PartReader(source, size) as reader:
        target = Target(
            s3,
            bucket,
            key,
            settings or TransferSettings(),
            dict(extra_args or {}),
            encryption_fingerprint(policy.encryption),
            TransferStats(),
        )
        return _Upload(target, reader, progress).run(journal)


class _Upload:
    """One upload, driven from the caller's thread."""

    def __init__(self, target: Target, reader: PartReader, progress: Progress | None) -> None:
        self.t = target
        self.reader = reader
        self.progress = progress
        self.stats = target.stats
        self.reported = 0
        self.done: dict[int, DonePart] = {}

    def run(self, journal_path: str | os.PathLike[str] | None) -> UploadResult:
        p = plan(self.t, self.reader.size, journal_path)
        first = bytearray(p.part_size)
        n, crc = self.reader.fill_checked(memoryview(first), p.algo.compute)
        if p.journal is None and n < p.part_size:
            del first[n:]
            return self._single(p.algo, first, crc)
        try:
            if p.upload_id is None:
                create(self.t, p, journal_path, self.reader.size)
            pipeline = PartPipeline(
                self.reader,
                p.algo.compute,
                self.t.settings.max_concurrency,
                lambda number, view, crc: send_part(self.t, p, number, view, crc),
                self.t.where,
            )
            pipeline.run(
                FirstPart(first, n, crc),
                p.part_size,
                p.resumable,
                lambda part, retries: self._finished(p, part, retries),
            )
            return self._complete(p)
        except BaseException as exc:
            error = self._fail(p, exc)
            if error is exc:
                raise
            raise error from exc

    def _single(self, algo: ck.Algorithm, body: bytearray, crc: int) -> UploadResult:
        reply = put_single(self.t, algo, body, crc)
        if reply.get(algo.param) != ck.b64(crc):
            self._verify(algo, len(body), crc, None, reply.get("VersionId"))
        self._report(len(body), len(body))
        self.stats.moved = len(body)
        return self._result(algo, len(body), 1, ck.b64(crc), reply)

    def _finished(self, p: Plan, part: DonePart, retries: int | None) -> None:
        """A part is on the store: sent now (``retries`` extra sends), or earlier (None)."""
        if retries is None:
            self.stats.resumed += 1
        else:
            self.stats.retried(retries, part.size)
            self.stats.moved += part.size
        self.done[part.number] = part
        if p.journal is not None and p.journal.parts.get(part.number) != part:
            p.journal.record(part)
        self._report(part.size, self.reader.size)

    def _complete(self, p: Plan) -> UploadResult:
        t, algo = self.t, p.algo
        numbers = sorted(self.done)
        if numbers != list(range(1, len(numbers) + 1)):
            raise StoreFailure(f"parts missing before completion: have {numbers[:5]}...")
        parts: list[dict[str, Any]] = []
        full = size = 0
        for n in numbers:
            part = self.done[n]
            entry: dict[str, Any] = {"PartNumber": n, "ETag": part.etag}
            if p.part_checksums:
                entry[algo.param] = ck.b64(part.crc)
            parts.append(entry)
            full = algo.combine(full, part.crc, part.size)
            size += part.size
        reply = complete(t, p, parts)
        p.upload_id = None
        if p.journal is not None:
            p.journal.remove()
        composite = algo.composite(self.done[n].crc for n in numbers)
        self._verify(algo, size, full, composite, reply.get("VersionId"))
        return self._result(algo, size, len(numbers), ck.b64(full), reply)

    def _result(
        self, algo: ck.Algorithm, size: int, parts: int, checksum: str, reply: dict[str, Any]
    ) -> UploadResult:
        return UploadResult(
            bucket=self.t.bucket,
            key=self.t.key,
            size=size,
            parts=parts,
            bytes_sent=self.stats.moved,
            bytes_resent=self.stats.resent,
            retries=self.stats.retries,
            checksum=checksum,
            checksum_algorithm=algo.name,
            etag=reply.get("ETag"),
            version_id=reply.get("VersionId"),
            parts_resumed=self.stats.resumed,
        )

    def _verify(
        self, algo: ck.Algorithm, size: int, full: int, composite: str | None, version: str | None
    ) -> None:
        """Read back the version this write made; remove it if it is wrong (see _stored)."""
        t = self.t
        verify_stored(
            StoredObject(t.s3, t.bucket, t.key, version, t.every),
            lambda call: t.call(call),
            algo,
            size=size,
            full=full,
            composite=composite,
        )

    def _fail(self, p: Plan, exc: BaseException) -> BaseException:
        """Abort unless the caller's side interrupted a journaled upload; the error to raise."""
        if p.upload_id is None:
            return translate(self.t.where, exc, None)
        if p.journal is not None and not verdict(exc).abort_journaled:
            return exc
        aborted = abort(self.t, p.upload_id)
        if p.journal is not None:
            p.journal.remove()
        outcome = (
            "the multipart upload was aborted"
            if aborted
            else f"aborting the multipart upload {p.upload_id} FAILED: abort it by hand"
        )
        return translate(self.t.where, exc, outcome)

    def _report(self, nbytes: int, total: int | None) -> None:
        self.reported += nbytes
        if self.progress is not None:
            self.progress(self.reported, total)
