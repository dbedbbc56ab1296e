"""Parallel ranged download through a guarded client, verified, with bounded memory.

Workers fetch byte ranges into reusable buffers (each range retried on its
own); the caller's thread writes them in order to the file or stream, so at
most ``max_concurrency + 1`` range buffers exist.  The CRC (CRC32C or CRC32:
the one the store keeps, or the caller names) is computed by the worker as
the range arrives.  When the object was uploaded in equal parts and the store
keeps a composite checksum, the ranges are aligned to those parts so the
composite can be checked; a whole-object CRC (from the store, or from the
caller's :class:`UploadResult`) is checked by combining the ranges' CRCs.
A file is written under a temporary name and moved into place only once
verified.
"""

from __future__ import annotations

import http.client
import os
import ssl
import tempfile
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

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
_CHUNK = 1 << 20


@dataclass(frozen=True, kw_only=True)
class DownloadResult:
    """What a download did and how it was verified.

    ``verified`` names the strongest check that passed: ``"crc32c"`` or
    ``"crc32"`` (the whole object's CRC, from the store or the caller),
    ``"composite-crc32c"`` or ``"composite-crc32"`` (the store's per-part
    checksum) or ``"length"`` (only lengths and ranges: the store kept no
    checksum and none was passed in).  ``checksum`` is the object's CRC
    under ``checksum_algorithm``.
    """

    bucket: str
    key: str
    size: int
    checksum: str
    checksum_algorithm: ck.AlgorithmName
    verified: str
    ranges: int
    retries: int
    bytes_refetched: int


@dataclass(frozen=True, slots=True)
class _Wanted:
    checksum: str | None
    algorithm: str | None


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
    checksum_algorithm: Literal["CRC32", "CRC32C"] | None = None,
    extra_args: Mapping[str, Any] | None = None,
) -> DownloadResult:
    """Download ``s3://bucket/key`` to a path or a writable binary stream.

    ``checksum`` and ``checksum_algorithm`` are what an upload reported
    (``UploadResult.checksum`` and ``.checksum_algorithm``); with them the
    bytes are verified end to end even on stores that keep no checksum.
    Without ``checksum_algorithm`` the CRC is the one the store keeps, else
    the one ``settings.checksum_algorithm`` picks.  Raises
    :class:`IntegrityError` when a check fails (a path is then left
    untouched), :class:`TransferError` when the store fails, and
    :class:`ConfigurationError` when the CRC needed is CRC32C and awscrt is
    not installed.  ``extra_args`` go to the HeadObject and every GetObject
    (e.g. ``VersionId``, ``ExpectedBucketOwner``, or ``SSECustomerKey`` to read
    an SSE-C object through a non-SSE-C client).
    """
    if guard_policy(s3.meta.events) is None:
        raise ConfigurationError(
            "safes3.download() needs a client made by safes3.client(); this one carries no "
            "safes3 guards"
        )
    quiet_botocore(s3)
    if checksum_algorithm is not None:
        ck.by_name(checksum_algorithm)
    job = _Download(s3, bucket, key, settings or TransferSettings(), progress)
    job.extra = dict(extra_args or {})
    wanted = _Wanted(checksum, checksum_algorithm)
    if isinstance(dest, str | os.PathLike):
        return job.to_path(Path(dest), wanted)
    return job.run(dest, wanted)


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
        self.algo = ck.CRC32
        self.extra: dict[str, Any] = {}

    def to_path(self, path: Path, wanted: _Wanted) -> DownloadResult:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                result = self.run(out, wanted)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return result

    def run(self, out: BinaryIO, wanted: _Wanted) -> DownloadResult:
        try:
            head = self._call(lambda: self._head())
            size = int(head["ContentLength"])
            self.algo = self._algorithm(head, wanted.algorithm)
            stored = head.get(self.algo.param)
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
            full = self.algo.combine(full, crc, r.length)
        verified = self._verify(full, crcs, stored, aligned, wanted)
        return DownloadResult(
            bucket=self.bucket,
            key=self.key,
            size=size,
            checksum=ck.b64(full),
            checksum_algorithm=self.algo.name,
            verified=verified,
            ranges=len(ranges),
            retries=self.retries,
            bytes_refetched=self.refetched,
        )

    def _algorithm(self, head: dict[str, Any], named: str | None) -> ck.Algorithm:
        """The CRC to compute: the caller's, else the store's, else the settings'.

        A CRC32C the store keeps but this process cannot compute is an error,
        not a silently weaker check.
        """
        if named is not None:
            return ck.by_name(named)
        for name in ("CRC32C", "CRC32"):
            if head.get(f"Checksum{name}"):
                if name == "CRC32C" and not ck.fast_available():
                    raise ConfigurationError(
                        f"{self.where} carries a CRC32C checksum, and verifying it needs the "
                        f"awscrt package: {ck.INSTALL_HINT} (or pass checksum_algorithm='CRC32' "
                        "with a CRC32 checksum= of your own)"
                    )
                return ck.by_name(name)
        return ck.resolve(self.settings.checksum_algorithm)

    def _head(self, **extra: Any) -> dict[str, Any]:
        found: dict[str, Any] = self.s3.head_object(  # type: ignore[attr-defined]
            Bucket=self.bucket, Key=self.key, ChecksumMode="ENABLED", **self.extra, **extra
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
                Bucket=self.bucket,
                Key=self.key,
                Range=f"bytes={r.start}-{r.start + r.length - 1}",
                **self.extra,
            )
            body = reply["Body"]
            try:
                if reply.get("ContentRange") != expected_range:
                    raise IntegrityError(
                        f"{self.where} changed during the download: asked for "
                        f"{expected_range}, got {reply.get('ContentRange')!r}"
                    )
                with memoryview(buffer) as view:
                    got, crc = _read_into(body, view[: r.length], self.algo)
                if got < r.length:
                    raise RetryableError(f"range {expected_range} ended after {got} bytes")
                return crc
            finally:
                body.close()

        crc = run(self.settings, get, lambda *_: None)
        return _Fetched(buffer, crc, attempts - 1)

    def _verify(
        self, full: int, crcs: list[int], stored: str | None, aligned: bool, wanted: _Wanted
    ) -> str:
        problems: list[str] = []
        verified = "length"
        algo = self.algo.name
        if aligned and stored:
            if self.algo.composite(crcs) != stored:
                problems.append(f"composite {algo} {self.algo.composite(crcs)} != stored {stored}")
            verified = f"composite-{algo.lower()}"
        for name, value in (("the store's", stored), ("the given", wanted.checksum)):
            if value and "-" not in value:
                if value != ck.b64(full):
                    problems.append(f"{algo} {ck.b64(full)} != {name} {value}")
                verified = algo.lower()
        if problems and wanted.checksum and wanted.algorithm is None:
            problems.append(
                f"if the given checksum is not a {algo}, pass its checksum_algorithm= "
                "(UploadResult.checksum_algorithm)"
            )
        if problems:
            raise IntegrityError(f"download of {self.where} does not match: {'; '.join(problems)}")
        return verified

    def _call(self, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        def on_retry(_attempt: int, _error: BaseException) -> None:
            self.retries += 1

        return run(self.settings, call, on_retry)


def _read_into(body: Any, view: memoryview, algo: ck.Algorithm) -> tuple[int, int]:
    """Fill ``view`` from a GetObject body: the bytes read (fewer if it ended early), their CRC.

    The CRC is taken a chunk at a time, right after the chunk arrived and
    while it is still in the CPU cache, instead of a second pass over the
    whole range from memory.  Only botocore's public ``readinto`` is used, so
    urllib3 keeps its length checks and its connection accounting.
    """
    total = len(view)
    got = crc = 0
    try:
        while got < total:
            n = body.readinto(view[got : got + _CHUNK])
            if not n:
                break
            crc = algo.compute(view[got : got + n], crc)
            got += n
    except (http.client.HTTPException, ssl.SSLError) as exc:
        raise RetryableError(f"the connection failed mid-range: {exc!r}") from exc
    return got, crc
