"""The secure client against a live store over HTTPS: what reached the wire, what was stored.

Requests are recorded at ``before-send`` (see tests/wire.py); the stored
state is read back with plain boto3 clients from conftest, outside safes3.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import ssl
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3
import certifi
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.client import BaseClient
from botocore.exceptions import ClientError

import safes3
from tests.clients import client_for, session_for
from tests.conftest import raw_client
from tests.storeinfo import StoreInfo
from tests.wire import Wire

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.store

BODY = b"secret payload " * 100


def profile(store: StoreInfo) -> safes3.StoreProfile:
    return safes3.PROFILES[store.extra["profile"]]


def kms(store: StoreInfo) -> safes3.SSEKMS:
    return safes3.SSEKMS(store.kms_key_ids[0])


def test_a_genuine_guarded_client(store: StoreInfo) -> None:
    s3 = client_for(store, kms(store))
    assert isinstance(s3, BaseClient)
    assert type(s3).__name__ == "S3"
    assert safes3.is_guarded(s3)
    assert not safes3.is_guarded(boto3.session.Session().client("s3", region_name="us-east-1"))


def test_ssec_headers_on_the_wire_and_enforced_by_the_server(
    store: StoreInfo, bucket: str, admin_s3: S3Client
) -> None:
    key = safes3.SSEC.generate()
    s3 = client_for(store, key)
    wire = Wire().attach(s3)
    s3.put_object(Bucket=bucket, Key="obj", Body=BODY)
    assert s3.get_object(Bucket=bucket, Key="obj")["Body"].read() == BODY
    put, get = wire.where("PUT", "/obj")[0], wire.where("GET", "/obj")[0]
    for sent in (put, get):
        assert sent.url.startswith("https://")
        assert sent.header("x-amz-server-side-encryption-customer-algorithm") == "AES256"
        assert sent.header("x-amz-server-side-encryption-customer-key-md5") == key.fingerprint
    assert put.header("x-amz-checksum-crc32") is not None
    assert (put.header("content-md5") is not None) is not profile(store).checksum_headers_verified
    assert put.header("x-amz-content-sha256") == "UNSIGNED-PAYLOAD"
    assert put.header("x-amz-acl") is None
    with pytest.raises(ClientError) as no_key:
        admin_s3.get_object(Bucket=bucket, Key="obj")
    assert no_key.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 403)
    other = safes3.SSEC.generate()
    with pytest.raises(ClientError):
        client_for(store, other).get_object(Bucket=bucket, Key="obj")


def test_ssekms_round_trip_proven(store: StoreInfo, bucket: str, admin_s3: S3Client) -> None:
    mode = kms(store)
    s3 = client_for(store, mode)
    wire = Wire().attach(s3)
    out = s3.put_object(Bucket=bucket, Key="k", Body=BODY)
    assert out["ServerSideEncryption"] == "aws:kms"
    put = wire.where("PUT", "/k")[0]
    assert put.header("x-amz-server-side-encryption") == "aws:kms"
    assert put.header("x-amz-server-side-encryption-aws-kms-key-id") == mode.key_id
    head = admin_s3.head_object(Bucket=bucket, Key="k")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert mode.matches_key(head.get("SSEKMSKeyId"))


def test_sse_s3_proven_or_failed_closed(store: StoreInfo, bucket: str, admin_s3: S3Client) -> None:
    s3 = client_for(store, safes3.SSES3())
    if profile(store).sse_s3_honoured:
        s3.put_object(Bucket=bucket, Key="s", Body=BODY)
        assert admin_s3.head_object(Bucket=bucket, Key="s")["ServerSideEncryption"] == "AES256"
        assert s3.get_object(Bucket=bucket, Key="s")["Body"].read() == BODY
    else:
        with pytest.raises(safes3.EncryptionNotAppliedError, match="did not prove SSE-S3") as err:
            s3.put_object(Bucket=bucket, Key="s", Body=BODY)
        assert err.value.cleaned_up
        assert admin_s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


def test_multipart_upload_file_carries_key_on_every_part(
    store: StoreInfo, bucket: str, admin_s3: S3Client, tmp_path: os.PathLike[str]
) -> None:
    raw_key = os.urandom(32)
    key = safes3.SSEC(raw_key)
    s3 = client_for(store, key)
    wire = Wire().attach(s3)
    data = os.urandom(12 * 1024 * 1024)
    path = os.path.join(tmp_path, "big.bin")
    with open(path, "wb") as fh:
        fh.write(data)
    s3.upload_file(path, bucket, "big", Config=TransferConfig(multipart_chunksize=8 << 20))
    create = wire.where("POST", "?uploads")
    parts = [s for s in wire.where("PUT", "/big") if "partNumber=" in s.url]
    complete = [s for s in wire.where("POST", "/big") if "uploadId=" in s.url]
    assert len(create) == 1
    assert len(parts) == 2
    assert len(complete) == 1
    for sent in create + parts + complete:
        assert sent.header("x-amz-server-side-encryption-customer-key-md5") == key.fingerprint
    for sent in parts:
        assert sent.header("x-amz-checksum-crc32c") or sent.header("x-amz-checksum-crc32")
    got = raw_client(store).get_object(
        Bucket=bucket,
        Key="big",
        SSECustomerAlgorithm="AES256",
        SSECustomerKey=raw_key,
    )
    assert hashlib.sha256(got["Body"].read()).digest() == hashlib.sha256(data).digest()
    assert admin_s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_paginator_waiter_and_resource_carry_the_policy(store: StoreInfo, bucket: str) -> None:
    key = safes3.SSEC.generate()
    session = session_for(store, key)
    s3 = session.client()
    wire = Wire().attach(s3)
    s3.put_object(Bucket=bucket, Key="w", Body=b"x")
    s3.get_waiter("object_exists").wait(Bucket=bucket, Key="w")
    head = wire.where("HEAD", "/w")[0]
    assert head.header("x-amz-server-side-encryption-customer-key-md5") == key.fingerprint
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=bucket))
    assert [o["Key"] for o in pages[0]["Contents"]] == ["w"]
    obj = session.resource().Object(bucket, "r")
    obj.put(Body=b"via resource")
    assert obj.get()["Body"].read() == b"via resource"
    assert key.fingerprint in obj.sse_customer_key_md5  # SeaweedFS echoes "X, X"
    with pytest.raises(safes3.ACLRefusedError):
        session.resource().Object(bucket, "r2").put(Body=b"x", ACL="public-read")


@pytest.mark.parametrize(
    "call",
    [
        "put_object",
        "put_object_acl",
        "put_bucket_acl",
        "create_bucket",
        "copy_object",
        "create_multipart_upload",
        "upload_fileobj",
        "presign",
    ],
)
def test_acl_changes_refused_before_sending(
    store: StoreInfo, bucket: str, admin_s3: S3Client, call: str
) -> None:
    s3 = client_for(store, kms(store))
    wire = Wire().attach(s3)
    before = admin_s3.get_bucket_acl(Bucket=bucket)["Grants"]
    attempts: dict[str, Callable[[], object]] = {
        "put_object": lambda: s3.put_object(Bucket=bucket, Key="a", Body=b"x", ACL="public-read"),
        "put_object_acl": lambda: s3.put_object_acl(Bucket=bucket, Key="a", ACL="public-read"),
        "put_bucket_acl": lambda: s3.put_bucket_acl(Bucket=bucket, ACL="public-read-write"),
        "create_bucket": lambda: s3.create_bucket(Bucket=bucket + "-x", ACL="public-read"),
        "copy_object": lambda: s3.copy_object(
            Bucket=bucket, Key="b", CopySource={"Bucket": bucket, "Key": "a"}, GrantRead="uri=x"
        ),
        "create_multipart_upload": lambda: s3.create_multipart_upload(
            Bucket=bucket,
            Key="m",
            GrantFullControl='uri="http://acs.amazonaws.com/groups/global/AllUsers"',
        ),
        "upload_fileobj": lambda: s3.upload_fileobj(
            io.BytesIO(b"x"), bucket, "u", ExtraArgs={"ACL": "public-read"}
        ),
        "presign": lambda: s3.generate_presigned_url(
            "put_object", Params={"Bucket": bucket, "Key": "p", "ACL": "public-read"}
        ),
    }
    with pytest.raises(safes3.ACLRefusedError, match=r"ACL|Grant"):
        attempts[call]()
    assert wire.sent == []
    assert admin_s3.get_bucket_acl(Bucket=bucket)["Grants"] == before
    assert admin_s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


def test_conflicting_encryption_refused(store: StoreInfo, bucket: str) -> None:
    s3 = client_for(store, kms(store))
    wire = Wire().attach(s3)
    with pytest.raises(safes3.EncryptionConflictError, match="contradicts"):
        s3.put_object(Bucket=bucket, Key="c", Body=b"x", ServerSideEncryption="AES256")
    with pytest.raises(safes3.EncryptionConflictError, match="SSE-C key"):
        s3.put_object(Bucket=bucket, Key="c", Body=b"x", SSECustomerKey=os.urandom(32))
    ssec = client_for(store, safes3.SSEC.generate())
    with pytest.raises(safes3.EncryptionConflictError, match="SSE-C key other than"):
        ssec.put_object(Bucket=bucket, Key="c", Body=b"x", SSECustomerKey=os.urandom(32))
    assert wire.sent == []
    s3.put_object(Bucket=bucket, Key="ok", Body=b"x", ServerSideEncryption="aws:kms")


def test_presigned_urls_are_https_and_never_carry_the_key(store: StoreInfo, bucket: str) -> None:
    key = safes3.SSEC.generate()
    s3 = client_for(store, key)
    s3.put_object(Bucket=bucket, Key="p", Body=b"presigned")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "p"})
    assert url.startswith("https://")
    b64 = key.customer_params["SSECustomerKey"]
    assert b64 not in url
    assert urllib.parse.quote(b64, safe="") not in url
    assert "x-amz-server-side-encryption-customer-key" in urllib.parse.unquote(url)
    request = urllib.request.Request(url, headers=dict(key.customer_headers))  # noqa: S310
    ctx = ssl.create_default_context(cafile=store.ca_bundle)
    with urllib.request.urlopen(request, context=ctx) as resp:  # noqa: S310
        assert resp.read() == b"presigned"


def test_http_endpoint_refused_even_where_the_store_listens(store: StoreInfo) -> None:
    with pytest.raises(safes3.InsecureTransportError, match="not HTTPS"):
        client_for(store, kms(store), endpoint_url=store.http_endpoint_url)


def test_machine_wide_ca_variables_cannot_replace_the_bundle(
    store: StoreInfo, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_CA_BUNDLE", certifi.where())
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    s3 = client_for(store, kms(store))
    s3.put_object(Bucket=bucket, Key="ca", Body=b"x")
    default = client_for(store, kms(store), ca_bundle=None)
    with pytest.raises(Exception, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        default.head_bucket(Bucket=bucket)


def test_debug_logs_never_show_secrets(store: StoreInfo, bucket: str) -> None:
    key = safes3.SSEC.generate()
    s3 = client_for(store, key)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        s3.put_object(Bucket=bucket, Key="log", Body=b"x")
        s3.get_object(Bucket=bucket, Key="log")["Body"].read()
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    text = stream.getvalue()
    assert "Making request for" in text
    assert "x-amz-server-side-encryption-customer-key" in text
    secret = key.customer_params["SSECustomerKey"]
    assert secret not in text
    assert base64.b64decode(secret).hex() not in text
    assert store.admin.secret_key not in text


def test_ssec_key_never_goes_over_plain_http(store: StoreInfo, bucket: str) -> None:
    """Even if a later event handler rewrites the URL, the last check before sending holds."""
    s3 = client_for(store, safes3.SSEC.generate())
    http_base = store.http_endpoint_url

    def downgrade(request: object, **_: object) -> None:
        url: str = request.url  # type: ignore[attr-defined]
        request.url = url.replace(store.endpoint_url, http_base)  # type: ignore[attr-defined]

    s3.meta.events.register_last("before-sign.s3", downgrade)
    with pytest.raises(safes3.InsecureTransportError, match="not HTTPS"):
        s3.put_object(Bucket=bucket, Key="h", Body=b"x")
    assert raw_client(store).list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


def test_plain_http_ssec_is_up_to_the_client(store: StoreInfo, bucket: str) -> None:
    """What the store itself does with an SSE-C key over plain HTTP (plain boto3)."""
    plain = raw_client(store)
    plain = boto3.session.Session().client(
        "s3",
        endpoint_url=store.http_endpoint_url,
        region_name=store.region,
        aws_access_key_id=store.admin.access_key,
        aws_secret_access_key=store.admin.secret_key,
        config=plain.meta.config,
    )
    attempt = {"Bucket": bucket, "Key": "h", "Body": b"x", "SSECustomerAlgorithm": "AES256"}
    if profile(store).sse_c_refused_over_http:
        with pytest.raises(ClientError):
            plain.put_object(**attempt, SSECustomerKey=os.urandom(32))  # type: ignore[arg-type]
    else:
        plain.put_object(**attempt, SSECustomerKey=os.urandom(32))  # type: ignore[arg-type]


def test_a_multipart_upload_never_mixes_keys(
    store: StoreInfo, bucket: str, admin_s3: S3Client
) -> None:
    key = safes3.SSEC.generate()
    s3 = client_for(store, key)
    wire = Wire().attach(s3)
    up = s3.create_multipart_upload(Bucket=bucket, Key="mix")
    with pytest.raises(safes3.EncryptionConflictError, match="SSE-C key other than"):
        s3.upload_part(
            Bucket=bucket,
            Key="mix",
            UploadId=up["UploadId"],
            PartNumber=1,
            Body=b"x" * 100,
            SSECustomerKey=os.urandom(32),
        )
    assert [s for s in wire.sent if "partNumber=" in s.url] == []
    s3.abort_multipart_upload(Bucket=bucket, Key="mix", UploadId=up["UploadId"])
    assert admin_s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_managed_copy_keeps_encryption(store: StoreInfo, bucket: str, admin_s3: S3Client) -> None:
    """Server-side where the store copies with SSE headers, else streamed through the client."""
    key = safes3.SSEC.generate()
    s3 = client_for(store, key)
    wire = Wire().attach(s3)
    s3.put_object(Bucket=bucket, Key="src", Body=BODY)
    s3.copy({"Bucket": bucket, "Key": "src"}, bucket, "dst")
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == BODY
    head = wire.where("HEAD", "/src")[0]
    assert head.header("x-amz-server-side-encryption-customer-key-md5") == key.fingerprint
    sent = wire.where("PUT", "/dst")[0]
    assert sent.header("x-amz-server-side-encryption-customer-key-md5") == key.fingerprint
    if profile(store).copy_with_sse:
        assert sent.header("x-amz-copy-source-server-side-encryption-customer-key-md5") == (
            key.fingerprint
        )
    else:
        assert sent.header("x-amz-copy-source") is None
        read = wire.where("GET", "/src")[0]
        assert read.header("x-amz-server-side-encryption-customer-key-md5") == key.fingerprint
    with pytest.raises(ClientError):
        admin_s3.head_object(Bucket=bucket, Key="dst")


def test_own_policy_sent_even_under_bucket_default_encryption(
    store: StoreInfo, bucket: str, admin_s3: S3Client
) -> None:
    default_rule = {
        "Rules": [
            {
                "ApplyServerSideEncryptionByDefault": {
                    "SSEAlgorithm": "aws:kms",
                    "KMSMasterKeyID": store.kms_key_ids[1],
                }
            }
        ]
    }
    if not profile(store).default_encryption:
        with pytest.raises(ClientError):
            admin_s3.put_bucket_encryption(
                Bucket=bucket,
                ServerSideEncryptionConfiguration=default_rule,  # type: ignore[arg-type]
            )
        return
    admin_s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration=default_rule,  # type: ignore[arg-type]
    )
    admin_s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    assert admin_s3.head_object(Bucket=bucket, Key="plain")["SSEKMSKeyId"] == store.kms_key_ids[1]
    mode = kms(store)
    s3 = client_for(store, mode)
    wire = Wire().attach(s3)
    s3.put_object(Bucket=bucket, Key="ours", Body=b"x")
    sent = wire.where("PUT", "/ours")[0]
    assert sent.header("x-amz-server-side-encryption-aws-kms-key-id") == mode.key_id
    assert admin_s3.head_object(Bucket=bucket, Key="ours")["SSEKMSKeyId"] == mode.key_id


def test_transfer_methods_never_reach_s3transfer(
    store: StoreInfo, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The methods run on safes3's engine: s3transfer (classic or CRT) is never built."""
    import boto3.s3.inject as inject
    import boto3.s3.transfer as transfer
    import s3transfer.manager

    reached: list[str] = []

    def spy(*_: Any, **__: Any) -> Any:
        reached.append("s3transfer")
        raise AssertionError("s3transfer reached")

    monkeypatch.setattr(transfer, "create_transfer_manager", spy)
    monkeypatch.setattr(inject, "create_transfer_manager", spy)
    monkeypatch.setattr(s3transfer.manager.TransferManager, "__init__", spy)
    s3 = client_for(store, kms(store))
    crt: Any = transfer.TransferConfig(preferred_transfer_client="crt")
    s3.upload_fileobj(io.BytesIO(b"x"), bucket, "t", Config=crt)
    s3.download_fileobj(bucket, "t", io.BytesIO(), Config=crt)
    s3.copy({"Bucket": bucket, "Key": "t"}, bucket, "t2", Config=crt)
    assert reached == []
    assert crt.preferred_transfer_client == "crt"
