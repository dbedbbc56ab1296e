"""One ranged GET of a download: pinned, checked, read straight into the caller's memory.

botocore's ``StreamingBody.readinto`` goes through urllib3, whose
``readinto`` reads into a new ``bytes`` object and copies it, so every byte
is copied twice and every read allocates.  :class:`RangeBody` reads the
body with ``http.client.HTTPResponse.readinto`` instead (the object urllib3
wraps): the bytes go from the TLS layer into the caller's buffer once, and
http.client still counts the body against its Content-Length and closes its
side when the count reaches zero.  What urllib3 and botocore did on top is
done here:

* every byte is counted; fewer than asked is a short read (retried from the
  byte it stopped at), never a success;
* the connection goes back to urllib3's pool (its public ``release_conn``)
  only when exactly Content-Length bytes were read and http.client has closed
  the body; any other ending (short read, error, cancellation) closes the
  connection instead, so a half-read one is never reused;
* network errors of the read become :class:`RetryableError`.

When the body is not the plain layout this expects (a checksum-validating
body, a chunked response, another urllib3), the public
``StreamingBody.readinto`` is used and botocore and urllib3 do all of it.

Every GET carries ``If-Match`` with the ETag (and the ``VersionId``, when the
object has one) of the download's first answer, and the answer's ETag and
Content-Range are checked: bytes of another version of the object are never
mixed into the file (:class:`~safes3.ObjectChangedError`).
"""

from __future__ import annotations

import contextlib
import http.client
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import urllib3
from botocore.exceptions import ClientError
from botocore.response import StreamingBody

from safes3._exceptions import IntegrityError, ObjectChangedError
from safes3._transfer import _checksum as ck
from safes3._transfer._retry import RetryableError, run
from safes3._transfer._settings import TransferSettings

__all__ = [
    "CHUNK",
    "Cancelled",
    "Flight",
    "Pin",
    "RangeBody",
    "RangeJob",
    "precondition_failed",
    "read_into",
]

CHUNK = 1 << 20
"""Bytes read (and checksummed, and written) at a time: small enough to stay in cache."""


class Cancelled(Exception):
    """The download is being abandoned (another range failed, or the caller interrupted)."""


@dataclass(frozen=True, slots=True)
class Pin:
    """The object version every range must come from: its ETag, and VersionId if any."""

    etag: str
    version_id: str | None
    extra: Mapping[str, Any] = field(default_factory=dict)
    """The caller's own parameters (an SSE-C key, RequestPayer...), on every read."""

    def params(self) -> dict[str, Any]:
        found: dict[str, Any] = {**self.extra, "IfMatch": self.etag}
        if self.version_id and self.version_id != "null":
            found["VersionId"] = self.version_id
        return found


class RangeBody:
    """A GetObject body of ``expected`` bytes, read into caller buffers with exact accounting."""

    def __init__(self, body: Any, expected: int) -> None:
        self._body = body
        self.expected = expected
        self.got = 0
        raw = getattr(body, "_raw_stream", None) if type(body) is StreamingBody else None
        fp = getattr(raw, "_fp", None)
        self._raw: urllib3.HTTPResponse | None = (
            raw if isinstance(raw, urllib3.HTTPResponse) else None
        )
        self._fp: http.client.HTTPResponse | None = None
        if (
            self._raw is not None
            and isinstance(fp, http.client.HTTPResponse)
            and not fp.chunked
            and fp.length == expected
            and self._raw.tell() == 0
        ):
            self._fp = fp

    @property
    def direct(self) -> bool:
        """True when reads go straight from http.client into the caller's buffer."""
        return self._fp is not None

    def readinto(self, view: memoryview) -> int:
        """Fill ``view`` as far as the body allows; 0 means the body ended."""
        try:
            n = self._fp.readinto(view) if self._fp is not None else self._body.readinto(view)
        except (OSError, http.client.HTTPException) as exc:
            raise RetryableError(f"the connection failed mid-range: {exc!r}") from exc
        self.got += n
        return n

    def close(self) -> bool:
        """Give the connection back if the body was read exactly, else close it; True if given."""
        fp = self._fp
        if (
            fp is not None
            and self._raw is not None
            and self.got == self.expected
            and fp.length == 0
            and fp.isclosed()
        ):
            self._raw.release_conn()
            return True
        with contextlib.suppress(Exception):
            self._body.close()
        return False

    def abort(self) -> None:
        """From another thread: unblock a read waiting on the network (it then ends short)."""
        raw = self._raw or getattr(self._body, "_raw_stream", None)
        with contextlib.suppress(Exception):
            raw.shutdown()  # type: ignore[union-attr]


class Flight:
    """The bodies being read right now, and the flag that stops them all."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._active: set[RangeBody] = set()

    def add(self, body: RangeBody) -> bool:
        """Track ``body``; False (and the body closed) when the download is stopping."""
        with self._lock:
            if not self.stop.is_set():
                self._active.add(body)
                return True
        body.close()
        return False

    def discard(self, body: RangeBody) -> None:
        with self._lock:
            self._active.discard(body)

    def cancel(self) -> None:
        """Stop every range: no new GETs, and reads blocked on the network end now."""
        with self._lock:
            self.stop.set()
            bodies = list(self._active)
        for body in bodies:
            body.abort()


class RangeJob:
    """Fetch bytes ``[start, start + length)`` of a pinned object, resuming after short reads.

    ``view_for(pos, n)`` gives the memory for the range's bytes ``pos..pos+n``;
    ``placed(pos, view)`` is told once they are read and checksummed (it
    writes them, or does nothing when the memory is the destination).
    """

    def __init__(
        self,
        s3: Any,
        where: tuple[str, str],
        pin: Pin,
        size: int,
        settings: TransferSettings,
        algo: ck.Algorithm,
        flight: Flight,
    ) -> None:
        self.s3 = s3
        self.bucket, self.key = where
        self.pin = pin
        self.size = size
        self.settings = settings
        self.algo = algo
        self.flight = flight
        self.stop = flight.stop

    def fetch(
        self,
        start: int,
        length: int,
        view_for: Callable[[int, int], memoryview],
        placed: Callable[[int, memoryview], None],
    ) -> tuple[int, int]:
        """The range's CRC and the retries it took (each resumes where the last one ended)."""
        pos = crc = attempts = 0

        def attempt() -> None:
            nonlocal pos, crc, attempts
            if self.stop.is_set():
                raise Cancelled
            attempts += 1
            first, last = start + pos, start + length - 1
            body = self._get(first, last)
            try:
                while pos < length:
                    view = view_for(pos, min(CHUNK, length - pos))
                    try:
                        n = body.readinto(view)
                    except RetryableError:
                        if self.stop.is_set():
                            raise Cancelled from None
                        raise
                    if not n:
                        if self.stop.is_set():
                            raise Cancelled
                        raise RetryableError(
                            f"bytes {first}-{last} of {self.where} ended after {body.got} bytes"
                        )
                    got = view[:n]
                    crc = self.algo.compute(got, crc)
                    placed(pos, got)
                    pos += n
            finally:
                self.flight.discard(body)
                body.close()

        run(self.settings, attempt, lambda *_: None)
        return crc, attempts - 1

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def _get(self, first: int, last: int) -> RangeBody:
        try:
            reply = self.s3.get_object(
                Bucket=self.bucket, Key=self.key, Range=f"bytes={first}-{last}", **self.pin.params()
            )
        except ClientError as exc:
            if precondition_failed(exc):
                raise ObjectChangedError(
                    f"{self.where} was replaced during the download (If-Match "
                    f"{self.pin.etag} refused)"
                ) from exc
            raise
        body = RangeBody(reply["Body"], last - first + 1)
        expected = f"bytes {first}-{last}/{self.size}"
        problem = None
        if reply.get("ETag") != self.pin.etag:
            problem = f"its ETag is now {reply.get('ETag')!r}, was {self.pin.etag!r}"
        elif reply.get("ContentRange") != expected:
            problem = f"asked for {expected}, got {reply.get('ContentRange')!r}"
        if problem is not None:
            body.close()
            raise ObjectChangedError(f"{self.where} changed during the download: {problem}")
        if reply.get("ContentLength") != last - first + 1:
            body.close()
            raise IntegrityError(
                f"{self.where}: {expected} came with Content-Length {reply.get('ContentLength')}"
            )
        if not self.flight.add(body):
            raise Cancelled
        return body


def precondition_failed(exc: ClientError) -> bool:
    """The store refused an ``If-Match``: the object is no longer the version pinned."""
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == 412 or exc.response.get("Error", {}).get("Code") == "PreconditionFailed"


def read_into(body: Any, view: memoryview, algo: ck.Algorithm) -> tuple[int, int]:
    """Fill ``view`` from a GetObject body: the bytes read (fewer if it ended early), their CRC.

    The CRC is taken a chunk at a time, right after the chunk arrived and
    while it is still in the CPU cache.
    """
    reader = body if isinstance(body, RangeBody) else RangeBody(body, len(view))
    total = len(view)
    got = crc = 0
    while got < total:
        n = reader.readinto(view[got : got + CHUNK])
        if not n:
            break
        crc = algo.compute(view[got : got + n], crc)
        got += n
    return got, crc
