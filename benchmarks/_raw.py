"""The ceiling: the same bytes over one raw TLS connection, 1 MiB writes, no S3 client."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from typing import BinaryIO
from urllib.parse import quote, urlsplit

__all__ = ["raw_get", "raw_put"]

_BLOCK = 1 << 20
_WRITE = 256 << 10


def _connect(endpoint_url: str, ca_bundle: str) -> tuple[ssl.SSLSocket, str]:
    parts = urlsplit(endpoint_url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or 443
    context = ssl.create_default_context(cafile=ca_bundle)
    sock = socket.create_connection((host, port))
    return context.wrap_socket(sock, server_hostname=host), f"{host}:{port}"


def _read_head(tls: ssl.SSLSocket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and whatever body bytes came with them."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = tls.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection before answering")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, rest


def raw_put(
    endpoint_url: str,
    ca_bundle: str,
    bucket: str,
    key: str,
    size: int,
    read_into: Callable[[memoryview], int],
) -> None:
    """One HTTP PUT of ``size`` bytes, filled by ``read_into`` into a reused 1 MiB buffer."""
    tls, host = _connect(endpoint_url, ca_bundle)
    with tls:
        request = (
            f"PUT /{bucket}/{quote(key)} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {size}\r\n\r\n"
        )
        tls.sendall(request.encode())
        buf = memoryview(bytearray(_BLOCK))
        sent = 0
        while sent < size:
            n = read_into(buf[: min(_BLOCK, size - sent)])
            if not n:
                raise EOFError(f"source ended after {sent} of {size} bytes")
            tls.sendall(buf[:n])
            sent += n
        status, _, _ = _read_head(tls)
        if status != 200:
            raise RuntimeError(f"raw PUT answered {status}")


def raw_get(endpoint_url: str, ca_bundle: str, bucket: str, key: str, dest: BinaryIO) -> int:
    """One HTTP GET of the whole object, written to ``dest`` from a reused 1 MiB buffer.

    The buffer is written in 256 KiB pieces, as safes3 writes its ranges:
    with 1 MiB writes this machine's page cache was measured to cost 2-3
    times more CPU per GiB, which would lower the ceiling.
    """
    tls, host = _connect(endpoint_url, ca_bundle)
    with tls:
        tls.sendall(f"GET /{bucket}/{quote(key)} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        status, headers, rest = _read_head(tls)
        if status != 200:
            raise RuntimeError(f"raw GET answered {status}")
        length = int(headers["content-length"])
        dest.write(rest)
        got = len(rest)
        buf = memoryview(bytearray(_BLOCK))
        filled = 0
        while got < length:
            n = tls.recv_into(buf[filled:], min(_BLOCK - filled, length - got))
            if not n:
                raise ConnectionError(f"connection closed after {got} of {length} bytes")
            filled += n
            got += n
            if filled == _BLOCK or got == length:
                for piece in range(0, filled, _WRITE):
                    dest.write(buf[piece : min(piece + _WRITE, filled)])
                filled = 0
        return got
