"""The guards' cost per request in CPU instructions: repeatable where seconds are not.

Each variant runs N small PutObject (or GetObject, or a 1 KiB put followed
by a get) calls under ``valgrind --tool=callgrind``, once with N=LOW and once
with N=HIGH; the difference divided by HIGH-LOW is the instruction count of
one request, free of start-up cost.  The HTTP exchange is answered by a
canned 200 carrying the encryption echo *in place of urllib3*, below the
client's HTTP session (and so below safes3's gate, which is counted): only
client work is measured, and the canned answer is faithful to what the
client parses, not to a server.

``plain`` is boto3 configured as safes3 configures it (SigV4, unsigned
payload, checksums when required, path style) and given the same encryption
parameters and a CRC32 it computes itself, so the difference is the guards.
``default`` is boto3 with its defaults and the same encryption parameters:
what an application swapping in safes3 compares against.

    python -m benchmarks.guard_instructions            # needs valgrind (apt)
"""

from __future__ import annotations

import argparse
import base64
import re
import subprocess
import sys
import zlib
from typing import Any

_LOW, _HIGH = 50, 250
_BODY = b"x" * 1024
_KEY = bytes(range(32))


class _Raw:
    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers

    def stream(self, *_: Any, **__: Any) -> Any:
        yield b""


class _Canned:
    """Stands in for urllib3: the innermost HTTP session of a client."""

    def __init__(self, headers: dict[str, str], replaced: Any) -> None:
        self.headers = headers
        self._verify = replaced._verify
        self._proxy_config = replaced._proxy_config

    def send(self, request: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        return AWSResponse(request.url, 200, self.headers, _Raw(self.headers))  # type: ignore[arg-type]

    def close(self) -> None:
        return


def _answer_below_http(s3: Any, headers: dict[str, str]) -> None:
    session = s3._endpoint.http_session
    if hasattr(session, "_inner"):
        session._inner = _Canned(headers, session._inner)
    else:
        s3._endpoint.http_session = _Canned(headers, session)


def _child(variant: str, op: str, count: int) -> None:
    import boto3
    from botocore.config import Config

    import safes3

    ssec = variant.endswith("ssec")
    key = safes3.SSEC(_KEY)
    echo = (
        {"x-amz-server-side-encryption-customer-algorithm": "AES256"}
        | {"x-amz-server-side-encryption-customer-key-MD5": key.fingerprint}
        if ssec
        else {
            "x-amz-server-side-encryption": "aws:kms",
            "x-amz-server-side-encryption-aws-kms-key-id": "k1",
        }
    )
    headers = {"ETag": '"e"', "Content-Length": "0", **echo}
    endpoint = "https://127.0.0.1:9"
    if variant.startswith("safes3"):
        s3: Any = safes3.client(
            encryption=key if ssec else safes3.SSEKMS("k1"),
            endpoint_url=endpoint,
            store="minio",
            region="us-east-1",
            credentials=safes3.StaticCredentials(access_key_id="AKIDX", secret_access_key="x" * 20),
            allow_static_credentials=True,
        )
        put_extra: dict[str, Any] = {}
        get_extra: dict[str, Any] = {}
    else:
        config = Config(
            signature_version="s3v4",
            request_checksum_calculation="when_required",
            s3={"addressing_style": "path", "payload_signing_enabled": False},
            retries={"mode": "standard"},
        )
        if variant.startswith("default"):
            config = Config(s3={"addressing_style": "path"})
        s3 = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="AKIDX",
            aws_secret_access_key="x" * 20,
            config=config,
        )
        sse = (
            {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": _KEY}
            if ssec
            else {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "k1"}
        )
        put_extra = dict(sse)
        get_extra = dict(sse) if ssec else {}
    _answer_below_http(s3, headers)
    plain = variant.startswith("plain")
    for _ in range(count):
        if op in ("put", "put+get"):
            extra = dict(put_extra)
            if plain:
                crc = zlib.crc32(_BODY).to_bytes(4, "big")
                extra["ChecksumCRC32"] = base64.b64encode(crc).decode()
            s3.put_object(Bucket="b", Key="k", Body=_BODY, **extra)
        if op in ("get", "put+get"):
            s3.get_object(Bucket="b", Key="k", **get_extra)


def _instructions(variant: str, op: str, count: int) -> int:
    out = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-m",
            "benchmarks.guard_instructions",
            "--child",
            variant,
            op,
            str(count),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    found = re.search(r"Collected : (\d+)", out)
    if found is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{out[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=3, metavar=("VARIANT", "OP", "COUNT"))
    args = parser.parse_args()
    if args.child:
        variant, op, count = args.child
        _child(variant, op, int(count))
        return
    print(
        "| 1 KiB request | boto3 defaults instr | boto3 as safes3 instr | safes3 instr "
        "| vs defaults | vs same setup |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for mode in ("kms", "ssec"):
        for op in ("put", "get", "put+get"):
            per = {}
            for variant in (f"default-{mode}", f"plain-{mode}", f"safes3-{mode}"):
                low = _instructions(variant, op, _LOW)
                high = _instructions(variant, op, _HIGH)
                per[variant] = (high - low) / (_HIGH - _LOW)
            d, p, s = (per[f"{v}-{mode}"] for v in ("default", "plain", "safes3"))
            print(f"| {op} {mode} | {d:,.0f} | {p:,.0f} | {s:,.0f} | {s / d:.3f} | {s / p:.3f} |")


if __name__ == "__main__":
    main()
