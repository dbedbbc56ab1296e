"""Streaming multipart upload through a guarded client.

One thread (the caller's) reads the source into a small pool of reusable
part buffers and hands each full part to a worker pool; workers send parts
with per-part retries and give the buffer back.  Only ``max_concurrency + 1``
buffers ever exist, so memory is bounded whatever the source.  The caller's
thread also records finished parts (journal, progress), completes the upload,
verifies the stored object, and on a store failure aborts the upload.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError, ClientError

from safes3 import _checksum as ck
from safes3._exceptions import ConfigurationError, SafeS3Error, TransferError
from safes3._hooks import guard_policy, quiet_botocore
from safes3._journal import DonePart, Journal, encryption_fingerprint
from safes3._parts import PartBody, PartReader, Source
from safes3._retry import RetryableError, describe, run
from safes3._stored import StoredObject, verify_stored
from safes3._transfer_settings import MAX_PARTS, TransferSettings, part_size_for

__all__ = ["UploadResult", "upload"]

_EVERY_CALL = ("ExpectedBucketOwner", "RequestPayer")
"""``extra_args`` that every call of the upload carries, not only the first."""

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


@dataclass(frozen=True, slots=True)
class _Outcome:
    buffer: bytearray
    part: DonePart | None
    error: BaseException | None
    retries: int


class _StoreFailure(Exception):
    """A store call failed for good: the upload must be aborted."""


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
    policy = guard_policy(s3.meta.events)
    if policy is None:
        raise ConfigurationError(
            "safes3.upload() needs a client made by safes3.client(); this one carries no "
            "safes3 guards"
        )
    quiet_botocore(s3)
    with PartReader(source, size) as reader:
        job = _Upload(
            s3,
            reader,
            bucket,
            key,
            settings or TransferSettings(),
            progress,
            dict(extra_args or {}),
            encryption_fingerprint(policy.encryption),
        )
        return job.run(journal)


class _Upload:
    def __init__(
        self,
        s3: BaseClient,
        reader: PartReader,
        bucket: str,
        key: str,
        settings: TransferSettings,
        progress: Progress | None,
        extra: dict[str, Any],
        fingerprint: str,
    ) -> None:
        self.s3 = s3
        self.reader = reader
        self.bucket = bucket
        self.key = key
        self.settings = settings
        self.progress = progress
        self.extra = extra
        self.every = {k: extra[k] for k in _EVERY_CALL if k in extra}
        self.fingerprint = fingerprint
        self.where = f"s3://{bucket}/{key}"
        self.done: dict[int, DonePart] = {}
        self.done_bytes = 0
        self.retries = 0
        self.bytes_resent = 0
        self.bytes_sent = 0
        self.resumed = 0
        self.journal: Journal | None = None
        self.upload_id: str | None = None
        self.part_checksums = False
        self.algo = ck.resolve(settings.checksum_algorithm)
        self.stop = threading.Event()

    # ---- entry ----------------------------------------------------------------

    def run(self, journal_path: str | os.PathLike[str] | None) -> UploadResult:
        resumable: dict[int, DonePart] = {}
        if journal_path is not None:
            self.journal = Journal.load(journal_path)
            if self.journal is not None:
                resumable = self._resume(self.journal)
        part_size = (
            self.journal.part_size
            if self.journal is not None
            else part_size_for(self.reader.size, self.settings.part_size)
        )
        first = bytearray(part_size)
        n, crc = self.reader.fill_checked(memoryview(first), self.algo.compute)
        if self.journal is None and n < part_size:
            del first[n:]
            return self._single(first, crc)
        try:
            if self.journal is None:
                self._create(journal_path, part_size)
            self._send_all(first, n, crc, part_size, resumable)
            return self._complete()
        except BaseException as exc:
            error = self._fail(exc)
            if error is exc:
                raise
            raise error from exc

    # ---- single PutObject -------------------------------------------------------

    def _single(self, body: bytearray, crc: int) -> UploadResult:
        expected = ck.b64(crc)
        attempts = 0

        def put() -> dict[str, Any]:
            nonlocal attempts
            attempts += 1
            reply: dict[str, Any] = self.s3.put_object(  # type: ignore[attr-defined]
                Bucket=self.bucket,
                Key=self.key,
                Body=PartBody(memoryview(body)),
                **{self.algo.param: expected},
                **self.extra,
            )
            return reply

        try:
            reply = run(self.settings, put, self._count_retry(len(body)))
            inside = _resent_inside(reply)
            self.retries += inside
            self.bytes_resent += inside * len(body)
        except SafeS3Error:
            raise
        except (BotoCoreError, ClientError) as exc:
            raise TransferError(
                f"PutObject of {self.where} failed after {attempts} attempt(s): {describe(exc)}"
            ) from exc
        if reply.get(self.algo.param) != expected:
            self._verify_stored(
                len(body), full=crc, composite=None, version_id=reply.get("VersionId")
            )
        self._report(len(body), len(body))
        return UploadResult(
            bucket=self.bucket,
            key=self.key,
            size=len(body),
            parts=1,
            bytes_sent=len(body),
            bytes_resent=self.bytes_resent,
            retries=self.retries,
            checksum=expected,
            checksum_algorithm=self.algo.name,
            etag=reply.get("ETag"),
            version_id=reply.get("VersionId"),
        )

    # ---- multipart --------------------------------------------------------------

    def _resume(self, journal: Journal) -> dict[int, DonePart]:
        """Parts the journal lists that the store still holds, unchanged."""
        journal.check_matches(self.bucket, self.key, self.fingerprint)
        algorithm = ck.by_name(journal.check_algorithm(self.settings.checksum_algorithm))
        try:
            listed: dict[int, tuple[str, int]] = {}
            pages = self.s3.get_paginator("list_parts").paginate(
                Bucket=self.bucket, Key=self.key, UploadId=journal.upload_id, **self.every
            )
            for page in pages:
                for p in page.get("Parts", []):
                    listed[p["PartNumber"]] = (p["ETag"], p["Size"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchUpload":
                journal.remove()
                self.journal = None
                return {}
            raise TransferError(
                f"cannot list the parts of the journaled upload of {self.where}: "
                f"{describe(exc)}; retry later, or delete {journal.path} to start over"
            ) from exc
        self.upload_id = journal.upload_id
        self.part_checksums = journal.part_checksums
        self.algo = algorithm
        keep = {n: p for n, p in journal.parts.items() if listed.get(n) == (p.etag, p.size)}
        journal.parts = dict(keep)
        return keep

    def _create(self, journal_path: str | os.PathLike[str] | None, part_size: int) -> None:
        reply = run(
            self.settings,
            lambda: self.s3.create_multipart_upload(  # type: ignore[attr-defined]
                Bucket=self.bucket, Key=self.key, ChecksumAlgorithm=self.algo.name, **self.extra
            ),
            self._count_retry(0),
        )
        self.upload_id = reply["UploadId"]
        self.part_checksums = reply.get("ChecksumAlgorithm") == self.algo.name
        if journal_path is not None:
            self.journal = Journal(
                path=Path(journal_path),
                bucket=self.bucket,
                key=self.key,
                upload_id=reply["UploadId"],
                part_size=part_size,
                size=self.reader.size,
                encryption=self.fingerprint,
                part_checksums=self.part_checksums,
                checksum_algorithm=self.algo.name,
            )
            self.journal.save()

    def _send_all(
        self,
        first: bytearray,
        first_n: int,
        first_crc: int,
        part_size: int,
        resumable: dict[int, DonePart],
    ) -> None:
        limit = self.settings.max_concurrency + 1
        returns: queue.Queue[_Outcome] = queue.Queue()
        idle: list[bytearray] = []
        allocated = 1
        outstanding = 0
        total = self.reader.size

        def collect() -> bytearray:
            nonlocal outstanding
            outcome = returns.get()
            outstanding -= 1
            self.retries += outcome.retries
            if outcome.error is not None:
                self.stop.set()
                raise outcome.error
            if outcome.part is not None:
                self.bytes_resent += outcome.retries * outcome.part.size
                self.bytes_sent += outcome.part.size
                self._finished(outcome.part, total)
            return outcome.buffer

        with ThreadPoolExecutor(self.settings.max_concurrency, "safes3-upload") as pool:
            try:
                buffer, n, crc, number = first, first_n, first_crc, 1
                while True:
                    if number > MAX_PARTS:
                        raise TransferError(
                            f"{self.where} needs more than {MAX_PARTS} parts; pass size= or a "
                            "larger part_size"
                        )
                    short = n < len(buffer)
                    known = resumable.get(number)
                    if known is not None:
                        self._skip(known, n, crc, total)
                        idle.append(buffer)
                    else:
                        pool.submit(self._send_part, returns, number, buffer, n, crc)
                        outstanding += 1
                    wanted = part_size_for(self.reader.size, part_size, number + 1)
                    if short or (total is not None and self.reader.consumed >= total):
                        break
                    number += 1
                    if idle:
                        buffer = idle.pop()
                    elif allocated < limit:
                        buffer, allocated = bytearray(wanted), allocated + 1
                    else:
                        buffer = collect()
                    if len(buffer) != wanted:
                        buffer = bytearray(wanted)
                    n, crc = self.reader.fill_checked(memoryview(buffer), self.algo.compute)
                    if n == 0:
                        break
                while outstanding:
                    collect()
            except BaseException:
                self.stop.set()
                raise

    def _skip(self, known: DonePart, n: int, crc: int, total: int | None) -> None:
        if (known.size, known.crc) != (n, crc):
            raise TransferError(
                f"part {known.number} of the source differs from the part the journal "
                f"recorded for {self.where}; this is not the same source"
            )
        self.resumed += 1
        self._finished(known, total)

    def _finished(self, part: DonePart, total: int | None) -> None:
        self.done[part.number] = part
        if self.journal is not None and self.journal.parts.get(part.number) != part:
            self.journal.record(part)
        self._report(part.size, total)

    def _send_part(
        self, returns: queue.Queue[_Outcome], number: int, buffer: bytearray, n: int, crc: int
    ) -> None:
        """Runs in a worker: sends one part whose ``crc`` was computed as it was read.

        The buffer is never resized (views of it may outlive the request);
        only its first ``n`` bytes are the part.
        """
        attempts = 0
        view = memoryview(buffer)[:n]
        expected = ck.b64(crc)
        param = self.algo.param

        def send() -> dict[str, Any]:
            nonlocal attempts
            attempts += 1
            reply: dict[str, Any] = self.s3.upload_part(  # type: ignore[attr-defined]
                Bucket=self.bucket,
                Key=self.key,
                UploadId=self.upload_id,
                PartNumber=number,
                Body=PartBody(view),
                **{param: expected},
                **self.every,
            )
            echoed = reply.get(param)
            if echoed is not None and echoed != expected:
                raise RetryableError(f"part {number}: store computed {echoed}")
            return reply

        try:
            if self.stop.is_set():
                returns.put(_Outcome(buffer, None, None, 0))
                return
            reply = run(self.settings, send, lambda *_: None)
            part = DonePart(number=number, size=n, etag=reply["ETag"], crc=crc)
            returns.put(_Outcome(buffer, part, None, attempts - 1 + _resent_inside(reply)))
        except Exception as exc:  # noqa: BLE001 - every failure goes to the caller's thread
            failure: Exception = exc
            if not isinstance(exc, SafeS3Error):
                failure = _StoreFailure(
                    f"part {number} failed after {attempts} attempt(s): {describe(exc)}"
                )
                failure.__cause__ = exc
            returns.put(_Outcome(buffer, None, failure, attempts - 1))

    def _complete(self) -> UploadResult:
        numbers = sorted(self.done)
        if numbers != list(range(1, len(numbers) + 1)):
            raise _StoreFailure(f"parts missing before completion: have {numbers[:5]}...")
        parts: list[dict[str, Any]] = []
        full = 0
        size = 0
        for n in numbers:
            p = self.done[n]
            entry: dict[str, Any] = {"PartNumber": n, "ETag": p.etag}
            if self.part_checksums:
                entry[self.algo.param] = ck.b64(p.crc)
            parts.append(entry)
            full = self.algo.combine(full, p.crc, p.size)
            size += p.size
        try:
            reply = run(
                self.settings,
                lambda: self.s3.complete_multipart_upload(  # type: ignore[attr-defined]
                    Bucket=self.bucket,
                    Key=self.key,
                    UploadId=self.upload_id,
                    MultipartUpload={"Parts": parts},
                    **self.every,
                ),
                self._count_retry(0),
            )
        except SafeS3Error:
            raise
        except (BotoCoreError, ClientError) as exc:
            raise _StoreFailure(f"CompleteMultipartUpload failed: {describe(exc)}") from exc
        self.upload_id = None
        if self.journal is not None:
            self.journal.remove()
        self._verify_stored(
            size,
            full=full,
            composite=self.algo.composite(self.done[n].crc for n in numbers),
            version_id=reply.get("VersionId"),
        )
        return UploadResult(
            bucket=self.bucket,
            key=self.key,
            size=size,
            parts=len(numbers),
            bytes_sent=self.bytes_sent,
            bytes_resent=self.bytes_resent,
            retries=self.retries,
            checksum=ck.b64(full),
            checksum_algorithm=self.algo.name,
            etag=reply.get("ETag"),
            version_id=reply.get("VersionId"),
            parts_resumed=self.resumed,
        )

    # ---- verification and failure ----------------------------------------------

    def _verify_stored(
        self, size: int, *, full: int, composite: str | None, version_id: str | None
    ) -> None:
        """Read back the version this write made; remove it if it is wrong (see _stored)."""
        verify_stored(
            StoredObject(self.s3, self.bucket, self.key, version_id, self.every),
            lambda call: run(self.settings, call, self._count_retry(0)),
            self.algo,
            size=size,
            full=full,
            composite=composite,
        )

    def _fail(self, exc: BaseException) -> BaseException:
        """Abort unless the caller's side interrupted a journaled upload; the error to raise."""
        caller_side = not isinstance(exc, _StoreFailure | BotoCoreError | ClientError)
        if self.upload_id is None:
            return exc if isinstance(exc, SafeS3Error) or caller_side else _wrap(self.where, exc)
        if self.journal is not None and caller_side and not isinstance(exc, SafeS3Error):
            return exc
        aborted = self._abort()
        if self.journal is not None:
            self.journal.remove()
        if isinstance(exc, SafeS3Error) or caller_side:
            return exc
        outcome = (
            "the multipart upload was aborted"
            if aborted
            else f"aborting the multipart upload {self.upload_id} FAILED: abort it by hand"
        )
        return TransferError(f"upload of {self.where} failed: {_why(exc)}; {outcome}")

    def _abort(self) -> bool:
        try:
            run(
                self.settings,
                lambda: self.s3.abort_multipart_upload(  # type: ignore[attr-defined]
                    Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, **self.every
                ),
                lambda *_: None,
            )
        except (BotoCoreError, ClientError):
            return False
        return True

    def _count_retry(self, size: int) -> Callable[[int, BaseException], None]:
        def on_retry(_attempt: int, _error: BaseException) -> None:
            self.retries += 1
            self.bytes_resent += size

        return on_retry

    def _report(self, nbytes: int, total: int | None) -> None:
        self.done_bytes += nbytes
        if self.progress is not None:
            self.progress(self.done_bytes, total)


def _resent_inside(reply: Mapping[str, Any]) -> int:
    """Sends botocore itself repeated for one engine call.

    The engine turns botocore's retries off for its calls; the one exception
    is the single resend after an expired-credentials refusal
    (:mod:`safes3._expiry`), which botocore counts in ``RetryAttempts``.
    """
    return int(reply.get("ResponseMetadata", {}).get("RetryAttempts") or 0)


def _wrap(where: str, exc: BaseException) -> TransferError:
    return TransferError(f"upload of {where} failed: {_why(exc)}")


def _why(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, _StoreFailure) else describe(exc)
