"""A TLS-terminating HTTP proxy for the transfer tests that answers chosen requests itself.

:mod:`tests.faultproxy` passes TLS through and can only cut or stall bytes.
This proxy ends the client's TLS with its own certificate (the test gives
the client that certificate as its CA bundle), opens its own verified TLS
connection to the store, and relays HTTP/1.1 requests and responses one at a
time per connection.  A request matching an armed rule is not relayed: its
body is read and dropped and the proxy sends the rule's status with an S3
error document, as a store would, on the same keep-alive connection.  So the
client parses a real error response off its socket; the store never sees
that request.

A *rewrite* (:meth:`HttpFaultProxy.rewrite`) sees each relayed request
with the store's real status and headers and may replace that answer: the
store's body is read and dropped and the replacement sent instead.  Tests
use it to make the real store answer as another store (AWS) does in one
documented case, and say so in their docstrings.

An ``Expect: 100-continue`` is answered by the proxy itself (the request goes
on without it).  Only what the tests send is handled: requests framed by
Content-Length,
responses framed by Content-Length or chunked encoding (or none for HEAD,
204 and 304).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from io import BufferedIOBase
from pathlib import Path

from tests.certs import make_key_pair

__all__ = ["HttpFaultProxy", "Reply", "Request", "s3_error"]

_BLOCK = 256 * 1024


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Reply:
    """An answer the proxy sends instead of the store's (``body`` empty for HEAD)."""

    status: int
    headers: dict[str, str]
    body: bytes = b""


Rewrite = Callable[[Request, int, dict[str, str]], "Reply | None"]


@dataclass
class _Rule:
    matches: Callable[[Request], bool]
    status: int
    code: str
    fired: bool = False
    times: int = 1


@dataclass
class HttpFaultProxy:
    """Relays to ``target_host:target_port`` over TLS verified with ``ca_bundle``."""

    target_host: str
    target_port: int
    ca_bundle: str
    answered: list[tuple[Request, int]] = field(default_factory=list)
    relayed: list[Request] = field(default_factory=list)
    rewritten: list[tuple[Request, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="safes3-httpproxy-")
        cert, key = make_key_pair(Path(self._dir.name), "127.0.0.1")
        self.ca_bundle_for_clients = str(cert)
        self._server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._server_ctx.load_cert_chain(cert, key)
        self._upstream_ctx = ssl.create_default_context(cafile=self.ca_bundle)
        self._rules: list[_Rule] = []
        self._rewrites: list[Rewrite] = []
        self._before: list[Callable[[Request], None]] = []
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self.endpoint_url = f"https://127.0.0.1:{self.port}"
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, name="httpproxy", daemon=True).start()

    def answer_once(
        self, matches: Callable[[Request], bool], status: int, code: str, *, times: int = 1
    ) -> None:
        """Answer the first ``times`` requests ``matches`` picks with ``status`` and ``code``."""
        with self._lock:
            self._rules.append(_Rule(matches, status, code, times=times))

    def rewrite(self, fn: Rewrite) -> None:
        """For every relayed request, ``fn(request, status, headers)`` may replace the answer."""
        with self._lock:
            self._rewrites.append(fn)

    def before_relay(self, fn: Callable[[Request], None]) -> None:
        """Call ``fn(request)`` before each request is relayed (to race another client)."""
        with self._lock:
            self._before.append(fn)

    def close(self) -> None:
        self._server.close()
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.close()
        self._dir.cleanup()

    def __enter__(self) -> HttpFaultProxy:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _accept(self) -> None:
        while True:
            try:
                raw, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        upstream: ssl.SSLSocket | None = None
        try:
            client = self._server_ctx.wrap_socket(raw, server_side=True)
            upstream = self._upstream_ctx.wrap_socket(
                socket.create_connection((self.target_host, self.target_port)),
                server_hostname=self.target_host,
            )
            with self._lock:
                self._open += [client, upstream]
            down, up = client.makefile("rwb"), upstream.makefile("rwb")
            while self._one_exchange(down, up):
                pass
        except (OSError, ValueError):
            pass
        finally:
            for sock in (raw, upstream):
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.close()

    def _one_exchange(self, down: BufferedIOBase, up: BufferedIOBase) -> bool:
        head = _read_head(down)
        if head is None:
            return False
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = _headers(lines[1:])
        request = Request(method, target, headers)
        length = int(headers.get("content-length", "0"))
        if headers.get("expect", "").lower() == "100-continue":
            down.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            down.flush()
            head = "\r\n".join(
                line for line in lines if not line.lower().startswith("expect:")
            ).encode("latin-1")
        rule = self._due(request)
        if rule is not None:
            _copy(down, None, length)
            body = (
                f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{rule.code}</Code>"
                f"<Message>answered by the test proxy</Message></Error>"
            ).encode()
            down.write(
                f"HTTP/1.1 {rule.status} {rule.code}\r\nContent-Type: application/xml\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            down.flush()
            with self._lock:
                self.answered.append((request, rule.status))
            return True
        with self._lock:
            self.relayed.append(request)
            before = list(self._before)
        for fn in before:
            fn(request)
        up.write(head)
        _copy(down, up, length)
        up.flush()
        reply = _read_head(up)
        if reply is None:
            return False
        reply_lines = reply.decode("latin-1").split("\r\n")
        status = int(reply_lines[0].split(" ", 2)[1])
        reply_headers = _headers(reply_lines[1:])
        replacement = self._replacement(request, status, reply_headers)
        sink = down if replacement is None else None
        if replacement is None:
            down.write(reply)
        if method == "HEAD" or status in (204, 304):
            pass
        elif reply_headers.get("transfer-encoding", "").lower() == "chunked":
            _copy_chunked(up, sink)
        else:
            _copy(up, sink, int(reply_headers.get("content-length", "0")))
        if replacement is not None:
            _send_reply(down, method, replacement)
        down.flush()
        return True

    def _replacement(self, request: Request, status: int, headers: dict[str, str]) -> Reply | None:
        with self._lock:
            rewrites = list(self._rewrites)
        for fn in rewrites:
            found = fn(request, status, headers)
            if found is not None:
                with self._lock:
                    self.rewritten.append((request, found.status))
                return found
        return None

    def _due(self, request: Request) -> _Rule | None:
        with self._lock:
            for rule in self._rules:
                if not rule.fired and rule.matches(request):
                    rule.times -= 1
                    rule.fired = rule.times <= 0
                    return rule
        return None


def _read_head(stream: BufferedIOBase) -> bytes | None:
    lines = []
    while True:
        line = stream.readline(65537)
        if not line:
            return None
        lines.append(line)
        if line in (b"\r\n", b"\n"):
            return b"".join(lines)


def _headers(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep:
            found[name.strip().lower()] = value.strip()
    return found


def _copy(src: BufferedIOBase, dst: BufferedIOBase | None, length: int) -> None:
    while length:
        data = src.read(min(length, _BLOCK))
        if not data:
            raise ConnectionError("the peer closed the connection mid-body")
        if dst is not None:
            dst.write(data)
        length -= len(data)


def _send_reply(down: BufferedIOBase, method: str, reply: Reply) -> None:
    headers = dict(reply.headers)
    if not any(name.lower() == "content-length" for name in headers):
        headers["Content-Length"] = str(len(reply.body))
    head = f"HTTP/1.1 {reply.status} Replaced\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers.items()
    )
    down.write(head.encode("latin-1") + b"\r\n" + (b"" if method == "HEAD" else reply.body))


def s3_error(status: int, code: str, message: str) -> Reply:
    """An S3 error answer as a store sends it (XML body; a HEAD gets the status only)."""
    body = (
        f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
        f"<Message>{message}</Message></Error>"
    ).encode()
    return Reply(status, {"Content-Type": "application/xml"}, body)


def _copy_chunked(src: BufferedIOBase, dst: BufferedIOBase | None) -> None:
    def write(data: bytes) -> None:
        if dst is not None:
            dst.write(data)

    while True:
        line = src.readline(1024)
        write(line)
        size = int(line.split(b";", 1)[0], 16)
        if size == 0:
            while True:
                trailer = src.readline(8192)
                write(trailer)
                if trailer in (b"\r\n", b"\n", b""):
                    return
        _copy(src, dst, size + 2)
