"""TLS 1.2 at least: a real local TLS server that offers only TLS 1.0/1.1.

The server is a plain ``ssl`` socket (no S3 behind it): it is faithful for
the handshake, which is all this test is about.
"""

from __future__ import annotations

import socket
import ssl
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.config import Config as BotocoreConfig
from botocore.exceptions import SSLError

import safes3
from tests.certs import make_key_pair


@pytest.fixture
def old_tls_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    cert, key = make_key_pair(tmp_path, "127.0.0.1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            try:
                with ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1024)
                    tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            except (OSError, ssl.SSLError):
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    yield port, cert
    listener.close()


def test_server_really_speaks_tls_1_1(old_tls_server: tuple[int, Path]) -> None:
    port, cert = old_tls_server
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.load_verify_locations(cert)
    with (
        socket.create_connection(("127.0.0.1", port)) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.version() == "TLSv1.1"


def test_safes3_refuses_less_than_tls_1_2(old_tls_server: tuple[int, Path]) -> None:
    port, cert = old_tls_server
    s3 = safes3.client(
        encryption=safes3.SSEKMS("k1"),
        endpoint_url=f"https://127.0.0.1:{port}",
        ca_bundle=str(cert),
        credentials=safes3.StaticCredentials(access_key_id="AKIDTEST", secret_access_key="x" * 20),
        allow_static_credentials=True,
        botocore_config=BotocoreConfig(retries={"max_attempts": 1}),
    )
    with pytest.raises(SSLError, match=r"PROTOCOL_VERSION|unsupported protocol"):
        s3.list_buckets()
