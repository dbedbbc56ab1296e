"""A recording S3-shaped server on three ports: what reached the wire, and where.

``https`` serves TLS with a certificate the test trusts (its CA is the
client's ``ca_bundle``); ``http`` is plain HTTP; ``other`` serves TLS under a
CA the client does not trust.  Every connection accepted and every request
read is recorded with the port's name.  The answers are canned and faithful
to one thing only: they echo the encryption headers of a write the way S3
does (and answer CreateMultipartUpload with an upload id), so the client's
own proof of encryption passes and the test sees every request the client
would send.  Tests assert on the records, never on the answers.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import safes3
from tests.certs import make_key_pair

__all__ = ["Recorded", "Recorder", "client_on", "recording_server"]

_ECHO = (
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-server-side-encryption-customer-key-md5",
)


@dataclass(frozen=True)
class Recorded:
    port: str
    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    @property
    def query_keys(self) -> set[str]:
        query = urlsplit(self.target).query
        return {p.split("=", 1)[0].lower() for p in query.split("&") if p}


@dataclass
class Recorder:
    """The three ports' addresses, the CA to trust, and everything received."""

    https_url: str = ""
    http_url: str = ""
    other_url: str = ""
    ca_bundle: str = ""
    requests: list[Recorded] = field(default_factory=list)
    connections: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on(self, port: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.port == port]

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()
            self.connections.clear()


def _handler(recorder: Recorder, port: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            with recorder.lock:
                recorder.requests.append(Recorded(port, self.command, self.path, headers, body))
            payload = b""
            if self.command == "POST" and "uploads" in self.path:
                payload = (
                    b"<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>"
                    b"<UploadId>u1</UploadId></InitiateMultipartUploadResult>"
                )
            elif self.command == "GET":
                payload = b"recorded"
            self.send_response(200)
            for name in _ECHO:
                if name in headers:
                    self.send_header(name, headers[name])
            self.send_header("ETag", '"0"')
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _answer

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler], port: str, rec: Recorder) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.label, self.rec = port, rec
        self.tls: ssl.SSLContext | None = None

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        with self.rec.lock:
            self.rec.connections[self.label] = self.rec.connections.get(self.label, 0) + 1
        if self.tls is not None:
            sock.settimeout(5)
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        return


@contextlib.contextmanager
def recording_server() -> Iterator[Recorder]:
    """The three ports, served from threads until the block ends."""
    rec = Recorder()
    with tempfile.TemporaryDirectory() as tmp:
        good_dir, bad_dir = Path(tmp, "good"), Path(tmp, "bad")
        good_dir.mkdir()
        bad_dir.mkdir()
        good_cert, good_key = make_key_pair(good_dir, "127.0.0.1")
        bad_cert, bad_key = make_key_pair(bad_dir, "127.0.0.1")
        servers = []
        for port, cert in (
            ("https", (good_cert, good_key)),
            ("http", None),
            ("other", (bad_cert, bad_key)),
        ):
            server = _Server(_handler(rec, port), port, rec)
            if cert is not None:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain(str(cert[0]), str(cert[1]))
                server.tls = context
            scheme = "http" if cert is None else "https"
            setattr(rec, f"{port}_url", f"{scheme}://127.0.0.1:{server.server_address[1]}")
            threading.Thread(target=server.serve_forever, daemon=True).start()
            servers.append(server)
        rec.ca_bundle = str(good_cert)
        try:
            yield rec
        finally:
            for server in servers:
                server.shutdown()
                server.server_close()


def client_on(rec: Recorder, encryption: safes3.Encryption, **extra: Any) -> Any:
    """A safes3 client whose endpoint is the recorder's trusted HTTPS port."""
    return safes3.client(
        encryption=encryption,
        endpoint_url=rec.https_url,
        ca_bundle=rec.ca_bundle,
        store=extra.pop("store", "generic"),
        region="us-east-1",
        credentials=safes3.StaticCredentials(
            access_key_id="AKIDRECORDER", secret_access_key="recorder-secret-key-0123456789"
        ),
        allow_static_credentials=True,
        **extra,
    )
