"""The request the gate checks is the request that is sent: a frozen, exact copy.

A handler can hand the gate objects that answer one way when checked and
another way when written: a ``str`` subclass whose ``upper()`` lies, a URL
whose ``__str__`` differs from its value, a body that returns one document
to the gate and another to the socket, a ``Content-Length`` shorter than the
body (the rest would reach the server as a second, unchecked request).  So
the gate accepts only exact built-in types, parses the URL the way both
urllib3 (the connection) and botocore (the request target) will, and builds
a new prepared request from what it checked: the headers copied, the
inspected body as the bytes that were inspected, and any other stream body
cut at its declared length.
"""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from botocore.awsrequest import AWSPreparedRequest, HeadersDict, _HeaderKey
from urllib3.util import parse_url

from safes3._exceptions import InsecureTransportError

__all__ = [
    "Frozen",
    "PartBody",
    "freeze",
    "read_body",
    "with_body",
]

_METHODS = frozenset({"GET", "HEAD", "PUT", "POST", "DELETE"})
_ODD_URL = re.compile(r"[^\x21-\x7e]|[\\#]")
_NETLOCS: dict[tuple[str, str], tuple[str, str, int]] = {}
_BUFFERS = (bytes, bytearray, memoryview)


@dataclass(frozen=True, slots=True)
class Frozen:
    """What the gate checks, and exactly what goes on."""

    method: str
    url: str
    scheme: str
    host: str
    port: int
    path: str
    query: str
    headers: Mapping[str, str]
    prepared: AWSPreparedRequest


class _Capped:
    """A stream body that stops at its declared length, whatever the stream holds."""

    def __init__(self, body: Any, length: int) -> None:
        self._body = body
        self._length = length
        self._left = length
        self._start = body.tell() if hasattr(body, "tell") else 0

    def tell(self) -> int:
        return self._start + self._length - self._left

    def seek(self, offset: int, whence: int = 0) -> int:
        """Rewinds within the declared length only (as a resend needs)."""
        if whence != 0 or not self._start <= offset <= self._start + self._length:
            raise InsecureTransportError("a request body was moved outside its declared length")
        self._body.seek(offset)
        self._left = self._length - (offset - self._start)
        return offset

    def read(self, size: int = -1, /) -> Any:
        if self._left <= 0:
            return b""
        data = self._body.read(size)
        if not isinstance(data, _BUFFERS):
            raise InsecureTransportError("a request body stream returned something not bytes")
        if len(data) > self._left:
            data = memoryview(data)[: self._left]
        self._left -= len(data)
        return data


def _refuse(where: str, why: str) -> InsecureTransportError:
    return InsecureTransportError(f"{where}: {why}; it was not sent")


def freeze(request: Any, *, body: bytes | None = None) -> Frozen:
    """Check the request's types and framing, and copy it.

    ``body``, when given, replaces the request's body (the bytes an
    inspector read are the bytes sent).
    """
    method, url = request.method, request.url
    if type(method) is not str or type(url) is not str:
        raise _refuse("a request", "its method or URL is not a plain string")
    method = method.upper()
    if method not in _METHODS:
        raise _refuse(url.split("?")[0], f"method {method!r} is not one S3 uses")
    scheme, sep, rest = url.partition("://")
    netloc, _, tail = rest.partition("/")
    path, _, query = ("/" + tail).partition("?")
    if _ODD_URL.search(url) or not sep or "@" in netloc or ";" in path:
        raise _refuse(url.split("?")[0], "its URL holds characters URL parsers disagree on")
    scheme, host, port = _netloc(scheme, netloc)
    where = f"{method} {scheme}://{netloc}{path}"
    copied, lowered = _copy_headers(request.headers, where)
    sent_body = _framed(request.body if body is None else body, lowered, where)
    prepared = AWSPreparedRequest(
        method,
        url,
        copied,  # type: ignore[arg-type]
        sent_body,
        request.stream_output,
        getattr(request, "context", None),
    )
    return Frozen(
        method=method,
        url=url,
        scheme=scheme,
        host=host,
        port=port,
        path=path,
        query=query,
        headers=lowered,
        prepared=prepared,
    )


def _netloc(scheme: str, netloc: str) -> tuple[str, str, int]:
    """Scheme, host and port, as urllib3 (the connection) and botocore both read them."""
    key = (scheme, netloc)
    found = _NETLOCS.get(key)
    if found is None:
        base = f"{scheme}://{netloc}/"
        target, connection = urlparse(base), parse_url(base)
        found = ((target.scheme or "").lower(), (target.hostname or "").lower(), target.port or 443)
        agree = (
            found[0] == (connection.scheme or "").lower()
            and found[1] == (connection.host or "").lower().strip("[]")
            and found[2] == (connection.port or 443)
        )
        if not agree:
            raise _refuse(base, "its URL reads differently to urllib3 and botocore")
        if len(_NETLOCS) > 1024:
            _NETLOCS.clear()
        _NETLOCS[key] = found
    return found


def _copy_headers(headers: Any, where: str) -> tuple[HeadersDict, dict[str, str]]:
    if type(headers) is HeadersDict:
        return _copy_botocore_headers(headers, where)
    copied = HeadersDict()
    lowered: dict[str, str] = {}
    for name, value in list(headers.items()):
        if type(name) is not str or type(value) not in (str, bytes):
            raise _refuse(where, f"header {name!r} is not a plain string")
        low = name.lower()
        if low in lowered:
            raise _refuse(where, f"it carries {low} twice")
        lowered[low] = value.decode("latin-1") if type(value) is bytes else value
        copied[name] = value
    return copied, lowered


def _copy_botocore_headers(headers: HeadersDict, where: str) -> tuple[HeadersDict, dict[str, str]]:
    """botocore's own case-insensitive mapping, copied without re-keying (the hot path)."""
    inner: dict[Any, Any] = headers._dict  # type: ignore[attr-defined]
    lowered: dict[str, str] = {}
    for key, value in inner.items():
        if type(key) is not _HeaderKey or type(key._key) is not str:  # type: ignore[attr-defined]
            raise _refuse(where, f"header {key!r} is not a plain string")
        kind = type(value)
        if kind is bytes:
            lowered[key._lower] = value.decode("latin-1")  # type: ignore[attr-defined]
        elif kind is str:
            lowered[key._lower] = value  # type: ignore[attr-defined]
        else:
            raise _refuse(where, f"header {key!r} has a value that is not a plain string")
    copied = HeadersDict()
    copied._dict = dict(inner)  # type: ignore[attr-defined]
    return copied, lowered


def _framed(body: Any, headers: dict[str, str], where: str) -> Any:
    """The body to send, its length held to the declared Content-Length."""
    declared = headers.get("content-length")
    chunked = headers.get("transfer-encoding")
    if chunked is not None and (chunked.lower() != "chunked" or declared is not None):
        raise _refuse(where, "its Transfer-Encoding framing is not plain chunked")
    length = None
    if declared is not None:
        if not declared.isdigit() or not declared.isascii():
            raise _refuse(where, f"Content-Length {declared!r} is not a number")
        length = int(declared)
    if body is None:
        if length not in (None, 0):
            raise _refuse(where, "it declares a body it does not have")
        return None
    if type(body) is str:
        body = body.encode()
    if isinstance(body, _BUFFERS):
        size = memoryview(body).nbytes
        if length is not None and size != length:
            raise _refuse(where, f"Content-Length {length} differs from its {size}-byte body")
        return body if type(body) in _BUFFERS else memoryview(body)
    if type(body) is PartBody:
        if length is not None and len(body) != length:
            raise _refuse(where, f"Content-Length {length} differs from its part body")
        return body
    if hasattr(body, "read"):
        return _Capped(body, length) if length is not None else body
    raise _refuse(where, f"its body is a {type(body).__name__}, not bytes or a stream")


def with_body(frozen: Frozen, body: bytes) -> Frozen:
    """``frozen`` sending ``body`` (the bytes an inspector read) instead of its stream."""
    where = f"{frozen.method} {frozen.path}"
    old = frozen.prepared
    prepared = AWSPreparedRequest(
        old.method,
        old.url,
        old.headers,
        _framed(body, dict(frozen.headers), where),
        old.stream_output,
        getattr(old, "context", None),
    )
    return dataclasses.replace(frozen, prepared=prepared)


def read_body(body: Any) -> bytes:
    """All of a (small) body as bytes, a stream rewound to where it was."""
    if body is None:
        return b""
    if type(body) is str:
        return body.encode()
    if isinstance(body, _BUFFERS):
        return bytes(body)
    if hasattr(body, "seekable") and body.seekable():
        start = body.tell()
        try:
            data = body.read()
        finally:
            body.seek(start)
        if isinstance(data, _BUFFERS):
            return bytes(data)
    raise InsecureTransportError(
        "a request that can change access or encryption has a body safes3 cannot read "
        "back; it was not sent"
    )


class PartBody:
    """A part buffer as a request body that reaches the socket without a copy.

    With awscrt installed botocore signs through the CRT, which copies a
    bytes-like body into a ``BytesIO`` (a memcpy into fresh pages, per part)
    but passes a seekable stream through untouched.  urllib3 sends a stream in
    ``read(blocksize)`` pieces, so :meth:`read` hands out the rest of the
    buffer as one memoryview whatever size is asked (botocore's and urllib3's
    readers take any length): one ``sendall`` per part, as for bytes.  One
    instance per attempt: an attempt consumes it.
    """

    def __init__(self, view: memoryview) -> None:
        self._view = view
        self._pos = 0

    def __len__(self) -> int:
        return len(self._view) - self._pos

    def read(self, _size: int = -1, /) -> memoryview:
        rest = self._view[self._pos :]
        self._pos = len(self._view)
        return rest

    def readinto(self, target: memoryview) -> int:
        n = min(len(target), len(self._view) - self._pos)
        target[:n] = self._view[self._pos : self._pos + n]
        self._pos += n
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._view)}[whence]
        self._pos = min(max(0, base + offset), len(self._view))
        return self._pos

    def tell(self) -> int:
        return self._pos

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True
