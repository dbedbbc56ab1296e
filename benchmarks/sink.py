"""A minimal S3-speaking HTTPS server that throws bodies away.

It exists so that a benchmark measures the client: the server answers just
enough of the S3 API (PutObject, the multipart calls, Head/GetObject of
synthetic objects, ranges) for boto3 and safes3 to run unmodified, echoes the
encryption headers it was sent so safes3's proof of encryption passes, and
checks no signature.  Its CA and certificate are made at start in a
temporary directory.

It runs in its own process and forks one process per connection, so its CPU
per GiB does not grow with the number of connections a client opens (threads
would contend for one GIL), and :meth:`Sink.cpu_seconds` can report what the
server side spent.

Standalone: ``python -m benchmarks.sink [--port N]`` prints one JSON line
(endpoint, CA bundle path, PID), then serves until interrupted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import ipaddress
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from socketserver import ForkingMixIn
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


class _State:
    """What the sink remembers, as small files any connection's process can read.

    Each connection is served by its own forked process, so object sizes and
    encryption, and open uploads with their part sizes, live in a directory
    rather than in memory.  Writes are atomic renames.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.pattern = os.urandom(_PERIOD) * 2

    def _object(self, path: str) -> Path:
        return self.root / f"object-{hashlib.sha256(path.encode()).hexdigest()}.json"

    def _upload(self, upload_id: str) -> Path:
        if not re.fullmatch(r"upload-[0-9a-f]{32}", upload_id):
            return self.root / "missing"
        return self.root / upload_id

    @staticmethod
    def _write(target: Path, data: Any) -> None:
        temp = target.with_name(f".{target.name}.{os.getpid()}")
        temp.write_text(json.dumps(data))
        os.replace(temp, target)

    @staticmethod
    def _read(target: Path) -> Any:
        try:
            return json.loads(target.read_text())
        except FileNotFoundError:
            return None

    def put_object(self, path: str, size: int, sse: dict[str, str]) -> None:
        kept = {k: v for k, v in sse.items() if k not in _CUSTOMER}
        self._write(self._object(path), {"size": size, "sse": kept})

    def get_object(self, path: str) -> tuple[int | None, dict[str, str]]:
        found = self._read(self._object(path))
        return (None, {}) if found is None else (found["size"], found["sse"])

    def delete_object(self, path: str) -> None:
        self._object(path).unlink(missing_ok=True)

    def create_upload(self, path: str, sse: dict[str, str]) -> str:
        upload_id = f"upload-{uuid.uuid4().hex}"
        folder = self._upload(upload_id)
        folder.mkdir()
        self._write(folder / "upload.json", {"key": path, "sse": sse})
        return upload_id

    def upload_sse(self, upload_id: str) -> dict[str, str] | None:
        found = self._read(self._upload(upload_id) / "upload.json")
        return None if found is None else dict(found["sse"])

    def put_part(self, upload_id: str, number: int, size: int) -> None:
        folder = self._upload(upload_id)
        if folder.is_dir():
            self._write(folder / f"part-{number:05d}", size)

    def parts(self, upload_id: str) -> list[tuple[int, int]] | None:
        folder = self._upload(upload_id)
        if not folder.is_dir():
            return None
        found = ((int(p.name[5:]), self._read(p)) for p in folder.glob("part-*"))
        return sorted((n, size) for n, size in found if size is not None)

    def finish_upload(self, upload_id: str, path: str) -> dict[str, str] | None:
        """Record the object and drop the upload; its SSE headers, or None if unknown."""
        sse = self.upload_sse(upload_id)
        parts = self.parts(upload_id)
        if sse is None or parts is None:
            return None
        self.put_object(path, sum(size for _, size in parts), sse)
        self.abort_upload(upload_id)
        return sse

    def abort_upload(self, upload_id: str) -> None:
        shutil.rmtree(self._upload(upload_id), ignore_errors=True)


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
        buf = _buffer()
        got = 0
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
        return f'"{uuid.uuid4().hex}"'

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
            upload_id = query["uploadId"][0]
            state.put_part(upload_id, int(query["partNumber"][0]), size)
            sse = state.upload_sse(upload_id) or {}
            sse.update(self._sse_from_request())
            self._reply(200, {**headers, **sse})
            return
        if "/" not in path:
            self._reply(200)
            return
        sse = self._sse_from_request()
        state.put_object(path, size, sse)
        self._reply(200, {**headers, **sse})

    def do_POST(self) -> None:
        path, query = self._target()
        self._discard_body()
        bucket, _, key = path.partition("/")
        state = self.server.state
        if "uploads" in query:
            sse = self._sse_from_request()
            upload_id = state.create_upload(path, sse)
            inner = f"<Bucket>{bucket}</Bucket><Key>{key}</Key><UploadId>{upload_id}</UploadId>"
            self._reply(200, sse, self._xml("InitiateMultipartUploadResult", inner))
            return
        if "uploadId" in query:
            found = state.finish_upload(query["uploadId"][0], path)
            if found is None:
                self._error(404, "NoSuchUpload")
                return
            found.update(self._sse_from_request())
            inner = f"<Bucket>{bucket}</Bucket><Key>{key}</Key><ETag>{self._etag()}</ETag>"
            self._reply(200, found, self._xml("CompleteMultipartUploadResult", inner))
            return
        self._error(400, "InvalidRequest")

    def do_DELETE(self) -> None:
        path, query = self._target()
        self._discard_body()
        if "uploadId" in query:
            self.server.state.abort_upload(query["uploadId"][0])
        else:
            self.server.state.delete_object(path)
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
        parts = self.server.state.parts(upload_id)
        if parts is None:
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
        size, sse = state.get_object(path)
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


_buffers: list[memoryview] = []


def _buffer() -> memoryview:
    """This process's receive buffer (one connection per process, one body at a time)."""
    if not _buffers:
        _buffers.append(memoryview(bytearray(_READ)))
    return _buffers[0]


class _Server(ForkingMixIn, HTTPServer):
    """One forked process per connection: no GIL shared between connections.

    A threaded Python server makes its threads contend for one GIL, which
    costs more CPU per GiB the more connections a client opens; a process per
    connection costs the same per GiB for one stream or ten.  The TLS
    handshake happens in the child.
    """

    request_queue_size = 128
    max_children = 256
    block_on_close = False
    state: _State

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.do_handshake()
        super().finish_request(request, client_address)


def serve(host: str, port: int, announce: Callable[[dict[str, Any]], None]) -> None:
    """Serve until SIGTERM/SIGINT; ``announce`` gets the endpoint and CA path once listening."""
    with tempfile.TemporaryDirectory(prefix="safes3-sink-") as tmp:
        ca_bundle, cert, key = _make_certs(Path(tmp), host)
        state_dir = Path(tmp, "state")
        state_dir.mkdir()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert, key)
        server = _Server((host, port), _Handler)
        server.state = _State(state_dir)
        server.socket = context.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
        signal.signal(signal.SIGTERM, _interrupt)
        announce(
            {
                "endpoint_url": f"https://{host}:{server.server_address[1]}",
                "ca_bundle": ca_bundle,
                "pid": os.getpid(),
            }
        )
        try:
            server.serve_forever(poll_interval=0.05)
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()


def _interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


class Sink:
    """The sink, running in its own process until :meth:`close`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.sink", "--host", host, "--port", str(port)],
            cwd=Path(__file__).resolve().parent.parent,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line:
            self._proc.wait()
            raise RuntimeError(f"the sink exited with {self._proc.returncode} before listening")
        info = json.loads(line)
        self.endpoint_url: str = info["endpoint_url"]
        self.ca_bundle: str = info["ca_bundle"]
        self.pid: int = info["pid"]

    def cpu_seconds(self) -> float:
        """CPU used so far by the sink and its finished connection processes.

        Waits (up to 5 s) until every connection process has exited and been
        reaped, so their time is counted in the parent's ``cutime``.
        """
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        deadline = time.monotonic() + 5
        while children.read_text().strip() and time.monotonic() < deadline:
            time.sleep(0.01)
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        self._proc.terminate()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


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
    serve(args.host, args.port, lambda info: print(json.dumps(info), flush=True))


if __name__ == "__main__":
    main()
