"""A minimal S3-speaking HTTPS server that throws bodies away.

It exists so that a benchmark measures the client: the server answers just
enough of the S3 API (PutObject, the multipart calls, Head/GetObject of
synthetic objects, ranges) for boto3 and safes3 to run unmodified, echoes the
encryption headers it was sent so safes3's proof of encryption passes, and
checks no signature.  Its CA and certificate are made at start in a
temporary directory.

Standalone: ``python -m benchmarks.sink [--port N]`` prints the endpoint and
the CA bundle path, then serves until interrupted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import itertools
import json
import os
import re
import ssl
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["Sink", "running_sink", "synthetic_key"]

_READ = 4 << 20
_PERIOD = 1 << 20
_SIZE_IN_KEY = re.compile(r"(?:^|/)size-(\d+)(?:$|[/.-])")
_ECHO = (
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-server-side-encryption-customer-key-md5",
    "x-amz-server-side-encryption-context",
    "x-amz-server-side-encryption-bucket-key-enabled",
)
_CUSTOMER = frozenset(_ECHO[2:4])


def synthetic_key(size: int, name: str = "object") -> str:
    """A key the sink serves as an object of ``size`` bytes without any PUT."""
    return f"synthetic/size-{size}/{name}"


@dataclass
class _Upload:
    key: str
    sse: dict[str, str]
    parts: dict[int, int] = field(default_factory=dict)


@dataclass
class _State:
    """What the sink remembers: object sizes and encryption, open uploads."""

    sizes: dict[str, int] = field(default_factory=dict)
    sse: dict[str, dict[str, str]] = field(default_factory=dict)
    uploads: dict[str, _Upload] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    pattern: bytes = field(default_factory=lambda: os.urandom(_PERIOD) * 2)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    # ---- plumbing --------------------------------------------------------

    def _target(self) -> tuple[str, dict[str, list[str]]]:
        parts = urlsplit(self.path)
        path = unquote(parts.path).lstrip("/")
        return path, parse_qs(parts.query, keep_blank_values=True)

    def _discard_body(self) -> int:
        """Read and drop the body; return its decoded length (aws-chunked aware)."""
        buf = self.server.buffers.get()
        got = 0
        try:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                while True:
                    line = self.rfile.readline(1024)
                    size = int(line.split(b";", 1)[0], 16)
                    if size == 0:
                        while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                            pass
                        break
                    got += self._drop(buf, size)
                    self.rfile.readline(8)
            else:
                got = self._drop(buf, int(self.headers.get("Content-Length") or 0))
        finally:
            self.server.buffers.put(buf)
        decoded = self.headers.get("X-Amz-Decoded-Content-Length")
        return int(decoded) if decoded is not None else got

    def _drop(self, buf: memoryview, count: int) -> int:
        left = count
        while left:
            n = self.rfile.readinto1(buf[: min(left, len(buf))])
            if not n:
                raise ConnectionError("client closed the connection mid-body")
            left -= n
        return count

    def _reply(self, status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _sse_from_request(self) -> dict[str, str]:
        return {h: v for h in _ECHO if (v := self.headers.get(h)) is not None}

    def _etag(self) -> str:
        return f'"{next(self.server.state.ids):032x}"'

    def _xml(self, root: str, inner: str) -> bytes:
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<{root} xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{inner}</{root}>'
        ).encode()

    # ---- verbs -------------------------------------------------------------

    def do_PUT(self) -> None:
        path, query = self._target()
        size = self._discard_body()
        state = self.server.state
        headers = {"ETag": self._etag()}
        if crc := self.headers.get("x-amz-checksum-crc32"):
            headers["x-amz-checksum-crc32"] = crc
        if "uploadId" in query:
            with state.lock:
                upload = state.uploads.get(query["uploadId"][0])
                if upload is not None:
                    upload.parts[int(query["partNumber"][0])] = size
            sse = dict(upload.sse) if upload is not None else {}
            sse.update(self._sse_from_request())
            self._reply(200, {**headers, **sse})
            return
        if "/" not in path:
            self._reply(200)
            return
        sse = self._sse_from_request()
        with state.lock:
            state.sizes[path] = size
            state.sse[path] = {k: v for k, v in sse.items() if k not in _CUSTOMER}
        self._reply(200, {**headers, **sse})

    def do_POST(self) -> None:
        path, query = self._target()
        self._discard_body()
        bucket, _, key = path.partition("/")
        state = self.server.state
        if "uploads" in query:
            upload_id = f"upload-{next(state.ids)}"
            sse = self._sse_from_request()
            with state.lock:
                state.uploads[upload_id] = _Upload(key=path, sse=sse)
            inner = f"<Bucket>{bucket}</Bucket><Key>{key}</Key><UploadId>{upload_id}</UploadId>"
            self._reply(200, sse, self._xml("InitiateMultipartUploadResult", inner))
            return
        if "uploadId" in query:
            with state.lock:
                upload = state.uploads.pop(query["uploadId"][0], None)
                if upload is not None:
                    state.sizes[path] = sum(upload.parts.values())
                    state.sse[path] = {k: v for k, v in upload.sse.items() if k not in _CUSTOMER}
            if upload is None:
                self._error(404, "NoSuchUpload")
                return
            sse = dict(upload.sse)
            sse.update(self._sse_from_request())
            inner = f"<Bucket>{bucket}</Bucket><Key>{key}</Key><ETag>{self._etag()}</ETag>"
            self._reply(200, sse, self._xml("CompleteMultipartUploadResult", inner))
            return
        self._error(400, "InvalidRequest")

    def do_DELETE(self) -> None:
        path, query = self._target()
        self._discard_body()
        state = self.server.state
        with state.lock:
            if "uploadId" in query:
                state.uploads.pop(query["uploadId"][0], None)
            else:
                state.sizes.pop(path, None)
                state.sse.pop(path, None)
        self._reply(204)

    def do_HEAD(self) -> None:
        self._object(send_body=False)

    def do_GET(self) -> None:
        path, query = self._target()
        if "uploadId" in query:
            self._list_parts(path, query["uploadId"][0])
        elif "/" not in path:
            inner = f"<Name>{path}</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated>"
            self._reply(200, {}, self._xml("ListBucketResult", inner))
        else:
            self._object(send_body=True)

    # ---- helpers -------------------------------------------------------------

    def _error(self, status: int, code: str) -> None:
        self._reply(status, {}, self._xml("Error", f"<Code>{code}</Code>"))

    def _list_parts(self, path: str, upload_id: str) -> None:
        with self.server.state.lock:
            upload = self.server.state.uploads.get(upload_id)
            parts = sorted(upload.parts.items()) if upload else []
        if upload is None:
            self._error(404, "NoSuchUpload")
            return
        inner = "".join(
            f'<Part><PartNumber>{n}</PartNumber><ETag>"{n:032x}"</ETag><Size>{s}</Size></Part>'
            for n, s in parts
        )
        bucket, _, key = path.partition("/")
        head = f"<Bucket>{bucket}</Bucket><Key>{key}</Key><UploadId>{upload_id}</UploadId>"
        self._reply(200, {}, self._xml("ListPartsResult", head + inner))

    def _object(self, *, send_body: bool) -> None:
        path, _ = self._target()
        state = self.server.state
        with state.lock:
            size = state.sizes.get(path)
            sse = dict(state.sse.get(path, {}))
        if size is None and (match := _SIZE_IN_KEY.search(path)):
            size = int(match.group(1))
        if size is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        sse.update({h: v for h, v in self._sse_from_request().items() if h in _CUSTOMER})
        start, end, status = 0, size - 1, 200
        headers = {"ETag": '"0123456789abcdef0123456789abcdef"', "Accept-Ranges": "bytes", **sse}
        wanted = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", ""))
        if wanted and size:
            first, last = wanted.groups()
            if first:
                start, end = int(first), min(int(last) if last else size - 1, size - 1)
            else:
                start = max(size - int(last), 0)
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        length = max(end - start + 1, 0)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(length))
        self.send_header("Last-Modified", "Thu, 01 Jan 2026 00:00:00 GMT")
        self.end_headers()
        if send_body:
            self._send_range(start, length)

    def _send_range(self, start: int, length: int) -> None:
        pattern = memoryview(self.server.state.pattern)
        offset = start
        left = length
        while left:
            at = offset % _PERIOD
            n = min(left, _PERIOD)
            self.wfile.write(pattern[at : at + n])
            offset += n
            left -= n


class _Buffers:
    """Reusable receive buffers, one per concurrently served body."""

    def __init__(self) -> None:
        self._free: list[memoryview] = []
        self._lock = threading.Lock()

    def get(self) -> memoryview:
        with self._lock:
            if self._free:
                return self._free.pop()
        return memoryview(bytearray(_READ))

    def put(self, buf: memoryview) -> None:
        with self._lock:
            self._free.append(buf)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    state: _State
    buffers: _Buffers


class Sink:
    """The sink server, serving from a background thread until :meth:`close`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="safes3-sink-")
        self.ca_bundle, cert, key = _make_certs(Path(self._dir.name), host)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert, key)
        self._server = _Server((host, port), _Handler)
        self._server.state = _State()
        self._server.buffers = _Buffers()
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.endpoint_url = f"https://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._dir.cleanup()


@contextmanager
def running_sink(host: str = "127.0.0.1", port: int = 0) -> Iterator[Sink]:
    """A :class:`Sink` for the duration of a ``with`` block."""
    sink = Sink(host, port)
    try:
        yield sink
    finally:
        sink.close()


def _make_certs(directory: Path, host: str) -> tuple[str, str, str]:
    """A throwaway CA and a server certificate for ``host``, as PEM files."""
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "safes3 benchmark sink CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    try:
        names.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        names.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_path, cert_path, key_path = (directory / n for n in ("ca.pem", "cert.pem", "key.pem"))
    ca_path.write_bytes(ca_cert.public_bytes(pem))
    cert_path.write_bytes(cert.public_bytes(pem))
    key_path.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    return str(ca_path), str(cert_path), str(key_path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    with running_sink(args.host, args.port) as sink:
        print(json.dumps({"endpoint_url": sink.endpoint_url, "ca_bundle": sink.ca_bundle}))
        with suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
