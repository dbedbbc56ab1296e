"""Parallel ranged download through a guarded client, verified, consistent, at TLS speed.

A HeadObject gives the size, the checksum the store keeps and the ETag (and
VersionId) that pins every ranged GET to one version of the object
(:mod:`safes3._transfer._rangeread`): an object replaced mid-download is never mixed
into the result.  To a path, the ranges are written into their place in a
nameless file (:mod:`safes3._transfer._destfile`, :mod:`safes3._transfer._fetchers`), and a
replaced object means starting again from the HeadObject, at most
``_RESTARTS`` times, then :class:`ObjectChangedError`; to a stream, it is
that error at once (the stream then holds a prefix of one version).  The
CRC (CRC32C or CRC32: the one the store keeps, or the caller names) is
computed by the workers a chunk at a time as the bytes arrive.  When the
object was uploaded in equal parts and the store keeps a composite checksum,
the ranges are aligned to those parts so the composite can be checked; a
whole-object CRC (from the store, or from the caller's :class:`UploadResult`)
is checked by combining the ranges' CRCs.  A file gets its name only once
verified.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO, Literal

from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError, ClientError

from safes3._exceptions import (
    ConfigurationError,
    IntegrityError,
    ObjectChangedError,
    SafeS3Error,
    TransferError,
)
from safes3._transfer import _checksum as ck
from safes3._transfer._destfile import DestFile
from safes3._transfer._engineclient import engine_client
from safes3._transfer._fetchers import Plan, to_file, to_stream
from safes3._transfer._rangeread import Pin, precondition_failed
from safes3._transfer._retry import RetryableError, describe, run
from safes3._transfer._settings import MiB, TransferSettings
from safes3._transfer._stats import TransferStats

__all__ = ["DownloadResult", "download"]

_ALIGN_LIMIT = 4
"""Align ranges to upload parts only up to this many times ``part_size``."""
_RESTARTS = 2
"""Fresh starts of a download to a path whose object was replaced meanwhile."""
_SPREAD_MAX = 256 * MiB
"""Largest range of a download to a path (see :meth:`_Download._range_size`)."""


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
    """Download ``s3://bucket/key`` to a path or a writable binary stream, pinned to one version.

    ``checksum`` and ``checksum_algorithm`` are what an upload reported
    (``UploadResult.checksum`` and ``.checksum_algorithm``); with them the
    bytes are verified end to end even on stores that keep no checksum.
    Without ``checksum_algorithm`` the CRC is the one the store keeps, else
    the one ``settings.checksum_algorithm`` picks.  Raises
    :class:`IntegrityError` when a check fails (a path is then left
    untouched), its subclass :class:`ObjectChangedError` when the object kept
    being replaced during the download, :class:`TransferError` when the
    store fails, and
    :class:`ConfigurationError` when the CRC needed is CRC32C and awscrt is
    not installed.  ``extra_args`` go to the HeadObject and every GetObject
    (e.g. ``VersionId``, ``ExpectedBucketOwner``, or ``SSECustomerKey`` to read
    an SSE-C object through a non-SSE-C client).
    """
    engine_client(s3, "safes3.download()")
    if checksum_algorithm is not None:
        ck.by_name(checksum_algorithm)
    job = _Download(s3, bucket, key, settings or TransferSettings(), progress)
    job.extra = dict(extra_args or {})
    wanted = _Wanted(checksum, checksum_algorithm)
    if isinstance(dest, str | os.PathLike):
        return job.to_path(Path(dest), wanted)
    return job.to_stream(dest, wanted)


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
        self.stats = TransferStats()
        self.algo = ck.CRC32
        self.extra: dict[str, Any] = {}

    def to_path(self, path: Path, wanted: _Wanted) -> DownloadResult:
        for attempt in range(_RESTARTS + 1):
            dest = DestFile(path)
            try:
                result = self._run(partial(self._to_file, dest=dest), wanted, spread=True)
                dest.publish()
                return result
            except ObjectChangedError as exc:
                dest.discard()
                if attempt == _RESTARTS:
                    raise ObjectChangedError(
                        f"{exc}; it was replaced during each of {_RESTARTS + 1} tries, "
                        "nothing was kept"
                    ) from exc
                self.stats.restart()
            except BaseException:
                dest.discard()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _to_file(self, plan: Plan, *, dest: DestFile) -> list[int]:
        return to_file(self.s3, plan, self.settings, self.progress, dest, self.stats)

    def to_stream(self, out: BinaryIO, wanted: _Wanted) -> DownloadResult:
        return self._run(
            lambda plan: to_stream(self.s3, plan, self.settings, self.progress, out, self.stats),
            wanted,
            spread=False,
        )

    def _run(
        self, fetch: Callable[[Plan], list[int]], wanted: _Wanted, *, spread: bool
    ) -> DownloadResult:
        try:
            head = self._call(lambda: self._head())
            size = int(head["ContentLength"])
            pin = self._pin(head)
            self.algo = self._algorithm(head, wanted.algorithm)
            stored = head.get(self.algo.param)
            range_size, aligned = self._range_size(size, stored, pin, spread)
            ranges = [
                (start, min(range_size, size - start)) for start in range(0, size, range_size)
            ]
            crcs = fetch(Plan(self.bucket, self.key, size, pin, self.algo, ranges))
        except SafeS3Error:
            raise
        except (BotoCoreError, ClientError, RetryableError) as exc:
            raise TransferError(f"download of {self.where} failed: {describe(exc)}") from exc
        full = 0
        for (_, length), crc in zip(ranges, crcs, strict=True):
            full = self.algo.combine(full, crc, length)
        verified = _verify(self.where, self.algo, full, crcs, stored, aligned, wanted)
        return DownloadResult(
            bucket=self.bucket,
            key=self.key,
            size=size,
            checksum=ck.b64(full),
            checksum_algorithm=self.algo.name,
            verified=verified,
            ranges=len(ranges),
            retries=self.stats.retries,
            bytes_refetched=self.stats.refetched,
        )

    def _pin(self, head: dict[str, Any]) -> Pin:
        """The version every range must come from, as the HeadObject answered it."""
        etag = head.get("ETag")
        if not etag:
            raise TransferError(
                f"the store answered HeadObject of {self.where} without an ETag: the download "
                "cannot be pinned to one version of the object, so it is refused"
            )
        return Pin(etag, head.get("VersionId"), self.extra)

    def _head(self, **extra: Any) -> dict[str, Any]:
        found: dict[str, Any] = self.s3.head_object(  # type: ignore[attr-defined]
            Bucket=self.bucket, Key=self.key, ChecksumMode="ENABLED", **{**self.extra, **extra}
        )
        return found

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

    def _range_size(
        self, size: int, stored: str | None, pin: Pin, spread: bool
    ) -> tuple[int, bool]:
        """Ranges aligned to the upload's parts when that lets the composite be checked.

        Otherwise to a path (``spread``) ``range_size``, by default one range
        per worker, from ``part_size`` up to ``_SPREAD_MAX``: each GET costs
        the store a fixed amount of work, and the ranges of a file need no
        buffer, so fewer and longer ones are cheaper and no slower
        (docs/benchmarks.md); a range cut short resumes where it stopped, so
        a long one costs no more to retry.  A stream buffers whole ranges:
        ``part_size``.
        """
        wanted = plain = self.settings.part_size
        if spread:
            plain = self.settings.range_size or max(
                wanted, min(_SPREAD_MAX, _whole_mib(-(-size // self.settings.max_concurrency)))
            )
        if not stored or "-" not in stored:
            return plain, False
        count = int(stored.rsplit("-", 1)[1])
        if count < 2:
            return plain, False
        try:
            first = self._call(lambda: self._head(PartNumber=1, **pin.params()))
        except ClientError as exc:
            if precondition_failed(exc):
                raise ObjectChangedError(f"{self.where} was replaced during the download") from exc
            raise
        if first.get("ETag") != pin.etag:
            raise ObjectChangedError(f"{self.where} was replaced during the download")
        part = int(first.get("ContentLength", 0))
        if (
            first.get("PartsCount") == count
            and 0 < part <= wanted * _ALIGN_LIMIT
            and (count - 1) * part < size <= count * part
        ):
            return part, True
        return plain, False

    def _call(self, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        return run(self.settings, call, self.stats.counter(0))


def _whole_mib(n: int) -> int:
    return -(-n // MiB) * MiB


def _verify(
    where: str,
    algorithm: ck.Algorithm,
    full: int,
    crcs: list[int],
    stored: str | None,
    aligned: bool,
    wanted: _Wanted,
) -> str:
    """The strongest check that passed (``DownloadResult.verified``), else IntegrityError."""
    problems: list[str] = []
    verified = "length"
    algo = algorithm.name
    if aligned and stored:
        if algorithm.composite(crcs) != stored:
            problems.append(f"composite {algo} {algorithm.composite(crcs)} != stored {stored}")
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
        raise IntegrityError(f"download of {where} does not match: {'; '.join(problems)}")
    return verified
