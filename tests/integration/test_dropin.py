"""boto3's transfer methods on a guarded client, against the live stores: the engine runs them.

``upload_file``, ``upload_fileobj``, ``download_file``, ``download_fileobj``
and ``copy`` (and the resource API's methods, which call them) are checked
for boto3's documented behaviour (Callback increments summing to the size,
ExtraArgs stored, ACLs refused, errors of boto3's types) and for running on
safes3's engine: s3transfer is made to raise if anything reaches it, and the
wire shows the engine's marks (the CreateMultipartUpload naming its
checksum algorithm, a CRC header on every part, the HeadObject with
``x-amz-checksum-mode`` that verifies).  The fault proxy (tests/faultproxy.py)
is a byte-faithful TCP relay that resets or stalls one connection.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import boto3.s3.inject
import boto3.s3.transfer
import pytest
import s3transfer.manager
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config as BotocoreConfig
from botocore.exceptions import ClientError

import safes3
from tests.clients import client_for, session_for
from tests.conftest import raw_client
from tests.faultproxy import FaultProxy
from tests.integration.test_transfers import answer, inject, refuse_part_once
from tests.storeinfo import StoreInfo
from tests.wire import Sent, Wire

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.store

MiB = 1 << 20
SMALL_PARTS = TransferConfig(multipart_chunksize=5 * MiB, max_concurrency=2)


@pytest.fixture(autouse=True)
def no_s3transfer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any path into s3transfer (classic or CRT) fails the test."""

    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("a transfer method reached s3transfer")

    monkeypatch.setattr(s3transfer.manager.TransferManager, "__init__", refuse)
    monkeypatch.setattr(boto3.s3.transfer, "create_transfer_manager", refuse)
    monkeypatch.setattr(boto3.s3.inject, "create_transfer_manager", refuse)
    monkeypatch.setattr(boto3.s3.transfer.S3Transfer, "__init__", refuse)


def kms(store: StoreInfo) -> safes3.SSEKMS:
    return safes3.SSEKMS(store.kms_key_ids[0])


def source_file(tmp_path: Path, size: int) -> tuple[Path, bytes]:
    data = os.urandom(size)
    path = tmp_path / "source.bin"
    path.write_bytes(data)
    return path, data


def part_lengths(wire: Wire, key: str) -> list[int]:
    return sorted(
        int(s.header("content-length") or -1)
        for s in wire.where("PUT", f"/{key}?")
        if "partNumber=" in s.url
    )


def engine_uploaded(wire: Wire, key: str) -> list[Sent]:
    """The engine's marks for a multipart upload of ``key``; returns its parts."""
    create = [s for s in wire.where("POST", f"/{key}?uploads")]
    assert len(create) == 1
    assert create[0].header("x-amz-checksum-algorithm") in ("CRC32C", "CRC32")
    parts = [s for s in wire.where("PUT", f"/{key}?") if "partNumber=" in s.url]
    for part in parts:
        assert part.header("x-amz-checksum-crc32c") or part.header("x-amz-checksum-crc32")
    heads = [s for s in wire.where("HEAD", f"/{key}") if s.header("x-amz-checksum-mode")]
    assert heads, "no verifying HeadObject after the upload"
    return parts


def test_upload_and_download_run_on_the_engine_with_callbacks(
    store: StoreInfo, bucket: str, tmp_path: Path
) -> None:
    s3 = client_for(store, kms(store))
    wire = Wire().attach(s3)
    path, data = source_file(tmp_path, 12 * MiB)
    sent: list[int] = []
    s3.upload_file(str(path), bucket, "f", Callback=sent.append, Config=SMALL_PARTS)
    assert sum(sent) == len(data)
    assert sorted(sent) == [2 * MiB, 5 * MiB, 5 * MiB]
    assert len(engine_uploaded(wire, "f")) == 3
    assert part_lengths(wire, "f") == [2 * MiB, 5 * MiB, 5 * MiB]

    got: list[int] = []
    dest = tmp_path / "out.bin"
    s3.download_file(bucket, "f", str(dest), Callback=got.append, Config=SMALL_PARTS)
    assert dest.read_bytes() == data
    assert sum(got) == len(data)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []
    assert [s for s in wire.where("HEAD", "/f") if s.header("x-amz-checksum-mode")]
    ranges = sorted(s.header("range") or "" for s in wire.where("GET", "/f"))
    assert ranges == sorted(
        f"bytes={a}-{min(a + 5 * MiB, len(data)) - 1}" for a in range(0, len(data), 5 * MiB)
    )

    class Pipe:
        """Write-only, not seekable: what download_fileobj must cope with."""

        def __init__(self) -> None:
            self.chunks: list[bytes] = []

        def write(self, b: Any) -> int:
            self.chunks.append(bytes(b))
            return len(b)

    pipe, pieces = Pipe(), list[int]()
    s3.download_fileobj(bucket, "f", pipe, Callback=pieces.append)  # type: ignore[arg-type]
    assert b"".join(pipe.chunks) == data
    assert sum(pieces) == len(data)


def test_default_config_is_the_engines(store: StoreInfo, bucket: str) -> None:
    """Without Config boto3 cuts 12 MiB into 8 MiB parts; it fits the engine's 32 MiB part."""
    s3 = client_for(store, kms(store))
    wire = Wire().attach(s3)
    data = os.urandom(12 * MiB)
    s3.upload_fileobj(io.BytesIO(data), bucket, "one")
    assert wire.where("POST", "/one?uploads") == []
    puts = wire.where("PUT", "/one")
    assert len(puts) == 1
    assert puts[0].header("content-length") == str(len(data))
    assert puts[0].header("x-amz-checksum-crc32c") or puts[0].header("x-amz-checksum-crc32")


@pytest.mark.parametrize("size", [100, 6 * MiB])
def test_extra_args_metadata_and_content_type_stored(
    store: StoreInfo, bucket: str, admin_s3: S3Client, size: int
) -> None:
    s3 = client_for(store, kms(store))
    extra = {
        "ContentType": "text/csv",
        "Metadata": {"team": "ledger"},
        "CacheControl": "no-cache",
        "ContentDisposition": "attachment",
    }
    s3.upload_fileobj(
        io.BytesIO(os.urandom(size)), bucket, "m", ExtraArgs=extra, Config=SMALL_PARTS
    )
    head = admin_s3.head_object(Bucket=bucket, Key="m")
    assert head["ContentLength"] == size
    assert head["ContentType"] == "text/csv"
    assert head["Metadata"] == {"team": "ledger"}
    assert head["CacheControl"] == "no-cache"
    assert head["ContentDisposition"] == "attachment"
    assert head["SSEKMSKeyId"] == store.kms_key_ids[0]


@pytest.mark.parametrize(
    ("method", "extra", "error"),
    [
        ("upload_file", {"ACL": "public-read"}, safes3.ACLRefusedError),
        ("upload_fileobj", {"GrantRead": 'uri="x"'}, safes3.ACLRefusedError),
        ("copy", {"ACL": "public-read-write"}, safes3.ACLRefusedError),
        ("upload_fileobj", {"Bogus": "x"}, ValueError),
        ("upload_file", {"ChecksumSHA256": "x"}, safes3.ConfigurationError),
        ("download_file", {"ContentType": "x"}, ValueError),
    ],
)
def test_refused_extra_args_send_nothing(
    store: StoreInfo,
    bucket: str,
    admin_s3: S3Client,
    tmp_path: Path,
    method: str,
    extra: dict[str, str],
    error: type[Exception],
) -> None:
    s3 = client_for(store, kms(store))
    wire = Wire().attach(s3)
    path, _ = source_file(tmp_path, 100)
    dest = str(tmp_path / "d")
    calls = {
        "upload_file": lambda: s3.upload_file(str(path), bucket, "a", ExtraArgs=extra),
        "upload_fileobj": lambda: s3.upload_fileobj(io.BytesIO(b"x"), bucket, "a", ExtraArgs=extra),
        "copy": lambda: s3.copy({"Bucket": bucket, "Key": "s"}, bucket, "a", ExtraArgs=extra),
        "download_file": lambda: s3.download_file(bucket, "s", dest, ExtraArgs=extra),
    }
    with pytest.raises(error, match=next(iter(extra))):
        calls[method]()
    assert wire.sent == []
    assert admin_s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


def test_errors_keep_boto3_types_and_leave_nothing(
    store: StoreInfo, bucket: str, admin_s3: S3Client, tmp_path: Path
) -> None:
    """The part's 403 is injected at before-send (faithful to S3's status and error body)."""
    s3 = client_for(store, kms(store))
    dest = tmp_path / "keep.txt"
    dest.write_bytes(b"mine")
    with pytest.raises(ClientError) as missing:
        s3.download_file(bucket, "nope", str(dest))
    assert missing.value.response["Error"]["Code"] in ("404", "NoSuchKey")
    assert isinstance(missing.value, safes3.TransferClientError)
    assert dest.read_bytes() == b"mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]
    refused: list[int] = []
    wire = inject(s3, refuse_part_once(2, 403, "AccessDenied", refused))
    with pytest.raises(S3UploadFailedError, match="AccessDenied") as failed:
        s3.upload_fileobj(io.BytesIO(os.urandom(12 * MiB)), bucket, "k", Config=SMALL_PARTS)
    assert refused == [2]
    assert isinstance(failed.value, safes3.UploadFailedError)
    assert isinstance(failed.value.__cause__, safes3.TransferError)
    assert wire.where("DELETE", "/k?uploadId=")
    assert admin_s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert admin_s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


def test_an_upload_through_a_reset_and_a_stall_completes(
    store: StoreInfo, bucket: str, admin_s3: S3Client, tmp_path: Path
) -> None:
    parsed = urlsplit(store.endpoint_url)
    assert parsed.hostname is not None
    assert parsed.port is not None
    path, data = source_file(tmp_path, 20 * MiB)
    with FaultProxy(parsed.hostname, parsed.port) as proxy:
        proxy.arm("reset", after=3 * MiB)
        proxy.arm("stall", after=7 * MiB)
        s3 = client_for(
            store,
            safes3.SSEC.generate(),
            endpoint_url=f"https://{parsed.hostname}:{proxy.port}",
            botocore_config=BotocoreConfig(connect_timeout=2, read_timeout=2),
        )
        wire = Wire().attach(s3)
        sent: list[int] = []
        s3.upload_file(str(path), bucket, "faulty", Callback=sent.append, Config=SMALL_PARTS)
        assert proxy.fired == ["reset", "stall"]
        parts = engine_uploaded(wire, "faulty")
        assert len(parts) >= 4 + 2
        assert sum(sent) == len(data)
        assert admin_s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
        out = tmp_path / "back.bin"
        s3.download_file(bucket, "faulty", str(out), Config=SMALL_PARTS)
    assert out.read_bytes() == data


def test_ssec_end_to_end_with_copies(store: StoreInfo, bucket: str, tmp_path: Path) -> None:
    """Upload, download and copy under SSE-C; a copy to a new key reads via SourceClient."""
    old, new = safes3.SSEC.generate(), safes3.SSEC.generate()
    s3 = client_for(store, old)
    wire = Wire().attach(s3)
    path, data = source_file(tmp_path, 11 * MiB)
    s3.upload_file(str(path), bucket, "src", Config=SMALL_PARTS)
    s3.copy({"Bucket": bucket, "Key": "src"}, bucket, "same", Config=SMALL_PARTS)
    for sent in [s for s in wire.sent if s.method != "DELETE"]:
        assert sent.header("x-amz-server-side-encryption-customer-key-md5") == old.fingerprint
        assert sent.header("x-amz-server-side-encryption-customer-key") is not None
    copied = [s for s in wire.sent if s.header("x-amz-copy-source")]
    if safes3.PROFILES[store.extra["profile"]].copy_with_sse:
        assert copied
        for sent in copied:
            assert (
                sent.header("x-amz-copy-source-server-side-encryption-customer-key-md5")
                == old.fingerprint
            )
    else:
        assert copied == []
        assert [s for s in wire.where("GET", "/src") if s.header("range")]

    rekeyed = client_for(store, new)
    raw_old = old.customer_params["SSECustomerKey"]
    moved: list[int] = []
    rekeyed.copy(
        {"Bucket": bucket, "Key": "src"},
        bucket,
        "new",
        ExtraArgs={"CopySourceSSECustomerKey": raw_old},
        SourceClient=s3,
        Callback=moved.append,
        Config=SMALL_PARTS,
    )
    assert sum(moved) == len(data)
    for key, client in (("same", s3), ("new", rekeyed)):
        out = tmp_path / f"{key}.bin"
        client.download_file(bucket, key, str(out))
        assert out.read_bytes() == data
    plain = raw_client(store)
    with pytest.raises(ClientError):
        plain.head_object(Bucket=bucket, Key="new")
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="new")


def test_copy_keeps_metadata_and_counts_bytes(
    store: StoreInfo, bucket: str, admin_s3: S3Client
) -> None:
    s3 = client_for(store, kms(store))
    data = os.urandom(7 * MiB)
    s3.upload_fileobj(
        io.BytesIO(data),
        bucket,
        "a",
        ExtraArgs={"ContentType": "image/png", "Metadata": {"k": "v"}},
    )
    seen: list[int] = []
    s3.copy({"Bucket": bucket, "Key": "a"}, bucket, "b", Callback=seen.append, Config=SMALL_PARTS)
    assert sum(seen) == len(data)
    head = admin_s3.head_object(Bucket=bucket, Key="b")
    assert (head["ContentType"], head["Metadata"]) == ("image/png", {"k": "v"})
    assert head["SSEKMSKeyId"] == store.kms_key_ids[0]
    assert admin_s3.get_object(Bucket=bucket, Key="b")["Body"].read() == data


def test_resource_methods_run_on_the_engine(store: StoreInfo, bucket: str, tmp_path: Path) -> None:
    session = session_for(store, kms(store))
    resource = session.resource()
    wire = Wire().attach(resource.meta.client)
    path, data = source_file(tmp_path, 6 * MiB)
    sent: list[int] = []
    resource.Object(bucket, "r").upload_file(str(path), Callback=sent.append, Config=SMALL_PARTS)
    assert sum(sent) == len(data)
    assert len(engine_uploaded(wire, "r")) == 2
    out = tmp_path / "r.bin"
    resource.Bucket(bucket).download_file("r", str(out))
    assert out.read_bytes() == data
    with pytest.raises(safes3.ACLRefusedError):
        resource.Bucket(bucket).upload_file(str(path), "r2", ExtraArgs={"ACL": "public-read"})


def test_a_streamed_copy_whose_source_fails_leaves_nothing(
    store: StoreInfo, bucket: str, admin_s3: S3Client
) -> None:
    """The source's last range is refused (403 injected at before-send, faithful to S3's
    status and error body): the destination's upload is aborted, never completed."""
    s3 = client_for(store, kms(store))
    data = os.urandom(12 * MiB)
    s3.upload_fileobj(io.BytesIO(data), bucket, "src", Config=SMALL_PARTS)
    last = f"bytes={10 * MiB}-{12 * MiB - 1}"
    denied: list[str] = []

    def deny_last_range(sent: Sent) -> Any:
        if sent.method == "GET" and sent.header("range") == last:
            denied.append(last)
            return answer(403, "AccessDenied")
        return None

    wire = inject(s3, deny_last_range)
    with pytest.raises(ClientError) as failed:
        s3.copy({"Bucket": bucket, "Key": "src"}, bucket, "dst", Config=SMALL_PARTS)
    assert failed.value.response["Error"]["Code"] == "AccessDenied"
    assert denied == [last]
    assert wire.where("POST", "/dst?uploadId=") == [], "the upload must never be completed"
    if wire.where("POST", "/dst?uploads"):
        # Whether a part went out before the source failed is a race between the
        # threads; an upload that was started must be aborted either way.
        assert wire.where("DELETE", "/dst?uploadId=")
    assert [o["Key"] for o in admin_s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["src"]
    assert admin_s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
