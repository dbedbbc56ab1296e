"""Parallel ranged download through a guarded client, verified, with bounded memory.

Workers fetch byte ranges into reusable buffers (each range retried on its
own); the caller's thread writes them in order to the file or stream, so at
most ``max_concurrency + 1`` range buffers exist.  When the object was
uploaded in equal parts and the store keeps a composite CRC32, the ranges are
aligned to those parts so the composite can be checked; a whole-object CRC32
(from the store, or from the caller's :class:`UploadResult`) is checked by
combining the ranges' CRCs.  A file is written under a temporary name and
moved into place only once verified.
"""

from __future__ import annotations

import os
import tempfile
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError, ClientError

from safes3 import _checksum as ck
from safes3._exceptions import ConfigurationError, IntegrityError, SafeS3Error, TransferError
from safes3._hooks import guard_policy, quiet_botocore
from safes3._retry import RetryableError, describe, run
from safes3._transfer_settings import TransferSettings

__all__ = ["DownloadResult", "download"]

_ALIGN_LIMIT = 4
"""Align ranges to upload parts only up to this many times ``part_size``."""


@dataclass(frozen=True, kw_only=True)
class DownloadResult:
    """What a download did and how it was verified.

    ``verified`` names the strongest check that passed: ``"crc32"`` (the
    whole object's CRC32, from the store or the caller), ``"composite-crc32"``
    (the store's per-part checksum) or ``"length"`` (only lengths and ranges:
    the store kept no checksum and none was passed in).
    """

    bucket: str
    key: str
    size: int
    checksum: str
    verified: str
    ranges: int
    retries: int
    bytes_refetched: int


@dataclass(frozen=True, slots=True)
class _Range:
    start: int
    length: int


@dataclass(frozen=True, slots=True)
class _Fetched:
    buffer: bytearray
    crc: int
    retries: int


def download(
    s3: BaseClient,
    bucket: str,
    key: str,
    dest: str | os.PathLike[str] | BinaryIO,
    *,
    settings: TransferSettings | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    checksum: str | None = None,
) -> DownloadResult:
    """Download ``s3://bucket/key`` to a path or a writable binary stream.

    ``checksum`` is the CRC32 an upload reported (``UploadResult.checksum``);
    with it the bytes are verified end to end even on stores that keep no
    checksum.  Raises :class:`IntegrityError` when a check fails (a path is
    then left untouched) and :class:`TransferError` when the store fails.
    """
    if guard_policy(s3.meta.events) is None:
        raise ConfigurationError(
            "safes3.download() needs a client made by safes3.client(); this one carries no "
            "safes3 guards"
        )
    quiet_botocore(s3)
    job = _Download(s3, bucket, key, settings or TransferSettings(), progress)
    if isinstance(dest, str | os.PathLike):
        return job.to_path(Path(dest), checksum)
    return job.run(dest, checksum)


class _Download:
    def __init__(
        self,
        s3: BaseClient,
        bucket: str,
        key: str,
        settings: TransferSettings,
        progress: Callable[[int, int | None], None] | None,
    ) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.key = key
        self.settings = settings
        self.progress = progress
        self.where = f"s3://{bucket}/{key}"
        self.retries = 0
        self.refetched = 0

    def to_path(self, path: Path, checksum: str | None) -> DownloadResult:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                result = self.run(out, checksum)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return result

    def run(self, out: BinaryIO, checksum: str | None) -> DownloadResult:
        try:
            head = self._call(lambda: self._head())
            size = int(head["ContentLength"])
            stored = head.get("ChecksumCRC32")
            range_size, aligned = self._range_size(size, stored)
            ranges = [
                _Range(start, min(range_size, size - start)) for start in range(0, size, range_size)
            ]
            crcs = self._fetch_all(ranges, out, size)
        except SafeS3Error:
            raise
        except (BotoCoreError, ClientError, RetryableError) as exc:
            raise TransferError(f"download of {self.where} failed: {describe(exc)}") from exc
        full = 0
        for r, crc in zip(ranges, crcs, strict=True):
            full = ck.combine(full, crc, r.length)
        verified = self._verify(full, crcs, stored, aligned, checksum)
        return DownloadResult(
            bucket=self.bucket,
            key=self.key,
            size=size,
            checksum=ck.b64(full),
            verified=verified,
            ranges=len(ranges),
            retries=self.retries,
            bytes_refetched=self.refetched,
        )

    def _head(self, **extra: Any) -> dict[str, Any]:
        found: dict[str, Any] = self.s3.head_object(  # type: ignore[attr-defined]
            Bucket=self.bucket, Key=self.key, ChecksumMode="ENABLED", **extra
        )
        return found

    def _range_size(self, size: int, stored: str | None) -> tuple[int, bool]:
        """Ranges aligned to the upload's parts when that lets the composite be checked."""
        wanted = self.settings.part_size
        if not stored or "-" not in stored:
            return wanted, False
        count = int(stored.rsplit("-", 1)[1])
        if count < 2:
            return wanted, False
        first = self._call(lambda: self._head(PartNumber=1))
        part = int(first.get("ContentLength", 0))
        if (
            first.get("PartsCount") == count
            and 0 < part <= wanted * _ALIGN_LIMIT
            and (count - 1) * part < size <= count * part
        ):
            return part, True
        return wanted, False

    def _fetch_all(self, ranges: list[_Range], out: BinaryIO, size: int) -> list[int]:
        crcs: list[int] = []
        spare: list[bytearray] = []
        pending: deque[tuple[_Range, Future[_Fetched]]] = deque()
        window = self.settings.max_concurrency + 1
        done = 0
        with ThreadPoolExecutor(self.settings.max_concurrency, "safes3-download") as pool:
            try:
                for r in ranges:
                    if len(pending) >= window:
                        done = self._write(pending.popleft(), out, crcs, spare, done, size)
                    buffer = spare.pop() if spare else bytearray(r.length)
                    pending.append((r, pool.submit(self._fetch, r, buffer, size)))
                while pending:
                    done = self._write(pending.popleft(), out, crcs, spare, done, size)
            except BaseException:
                for _, future in pending:
                    future.cancel()
                raise
        return crcs

    def _write(
        self,
        item: tuple[_Range, Future[_Fetched]],
        out: BinaryIO,
        crcs: list[int],
        spare: list[bytearray],
        done: int,
        size: int,
    ) -> int:
        r, future = item
        fetched = future.result()
        self.retries += fetched.retries
        self.refetched += fetched.retries * r.length
        with memoryview(fetched.buffer) as view:
            out.write(view[: r.length])
        crcs.append(fetched.crc)
        spare.append(fetched.buffer)
        done += r.length
        if self.progress is not None:
            self.progress(done, size)
        return done

    def _fetch(self, r: _Range, buffer: bytearray, size: int) -> _Fetched:
        if len(buffer) < r.length:
            buffer = bytearray(r.length)
        attempts = 0
        expected_range = f"bytes {r.start}-{r.start + r.length - 1}/{size}"

        def get() -> int:
            nonlocal attempts
            attempts += 1
            reply = self.s3.get_object(  # type: ignore[attr-defined]
                Bucket=self.bucket, Key=self.key, Range=f"bytes={r.start}-{r.start + r.length - 1}"
            )
            body = reply["Body"]
            try:
                if reply.get("ContentRange") != expected_range:
                    raise IntegrityError(
                        f"{self.where} changed during the download: asked for "
                        f"{expected_range}, got {reply.get('ContentRange')!r}"
                    )
                got = 0
                with memoryview(buffer) as view:
                    while got < r.length:
                        n = body.readinto(view[got : r.length])
                        if not n:
                            raise RetryableError(f"range {expected_range} ended after {got} bytes")
                        got += n
                    return ck.crc32(view[: r.length])
            finally:
                body.close()

        crc = run(self.settings, get, lambda *_: None)
        return _Fetched(buffer, crc, attempts - 1)

    def _verify(
        self, full: int, crcs: list[int], stored: str | None, aligned: bool, checksum: str | None
    ) -> str:
        problems: list[str] = []
        verified = "length"
        if aligned and stored:
            if ck.composite(crcs) != stored:
                problems.append(f"composite CRC32 {ck.composite(crcs)} != stored {stored}")
            verified = "composite-crc32"
        for name, value in (("the store's", stored), ("the given", checksum)):
            if value and "-" not in value:
                if value != ck.b64(full):
                    problems.append(f"CRC32 {ck.b64(full)} != {name} {value}")
                verified = "crc32"
        if problems:
            raise IntegrityError(f"download of {self.where} does not match: {'; '.join(problems)}")
        return verified

    def _call(self, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        def on_retry(_attempt: int, _error: BaseException) -> None:
            self.retries += 1

        return run(self.settings, call, on_retry)
