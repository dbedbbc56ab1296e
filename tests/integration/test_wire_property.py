"""Property: whatever write a caller asks for, no request leaves without the policy.

Hypothesis generates parameters for every operation that writes (PutObject,
CreateMultipartUpload/UploadPart/CompleteMultipartUpload, CopyObject,
UploadPartCopy), sometimes with ACL/Grant* parameters or conflicting
encryption mixed in.  Each call goes to the live store; every request that
reached ``before-send`` is checked: HTTPS, no ACL header, the policy's
encryption headers on each write.  Server answers (e.g. Ceph's 501 for copies
with SSE headers) are allowed; refusals by safes3 must send nothing at all.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import safes3
from tests.clients import client_for
from tests.conftest import empty_bucket
from tests.storeinfo import StoreInfo
from tests.wire import Sent, Wire

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.store

WRITE_OPS = ("PutObject", "CreateMultipartUpload", "CopyObject", "UploadPartCopy")
ACL_PARAMS = {
    "ACL": st.sampled_from(["private", "public-read", "public-read-write", "authenticated-read"]),
    "GrantRead": st.just('uri="http://acs.amazonaws.com/groups/global/AllUsers"'),
    "GrantFullControl": st.just("id=someone"),
}
keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_/.", min_size=1, max_size=40).filter(
    lambda k: not k.startswith("/") and "//" not in k and k not in {".", ".."}
)
extras = st.fixed_dictionaries(
    {},
    optional={
        "ContentType": st.sampled_from(["text/plain", "application/octet-stream"]),
        "Metadata": st.dictionaries(
            st.text(alphabet="abcdefghij", min_size=1, max_size=8),
            st.text(alphabet="xyz123", max_size=8),
            max_size=2,
        ),
        "CacheControl": st.just("no-store"),
        **{name: strat for name, strat in ACL_PARAMS.items()},
        "ServerSideEncryption": st.sampled_from(["AES256", "aws:kms"]),
    },
)


def modes(store: StoreInfo) -> list[safes3.Encryption]:
    found: list[safes3.Encryption] = [safes3.SSEC.generate(), safes3.SSEKMS(store.kms_key_ids[0])]
    if safes3.PROFILES[store.extra["profile"]].sse_s3_honoured:
        found.append(safes3.SSES3())
    return found


def check_wire(sent: list[Sent], enc: safes3.Encryption) -> None:
    for req in sent:
        assert req.url.startswith("https://"), req.url
        names = {h.lower() for h in req.headers}
        assert "x-amz-acl" not in names
        assert not any(h.startswith("x-amz-grant-") for h in names)
        is_part = "partNumber=" in req.url
        creates = (req.method == "PUT" and not is_part) or req.url.endswith("?uploads")
        is_write = req.method in ("PUT", "POST")
        if isinstance(enc, safes3.SSEC):
            if is_write:
                for name, value in enc.customer_headers.items():
                    assert req.header(name) == value, (req.method, req.url, name)
                assert req.header("x-amz-server-side-encryption") is None
            if req.header("x-amz-copy-source"):
                for name, value in enc.source_headers.items():
                    assert req.header(name) == value
        elif creates:
            for name, value in enc.object_headers.items():
                assert req.header(name) == value, (req.method, req.url, name)


def call(s3: S3Client, op: str, bucket: str, key: str, extra: dict[str, Any]) -> None:
    if op == "PutObject":
        s3.put_object(Bucket=bucket, Key=key, Body=b"p" * 10, **extra)
    elif op == "CreateMultipartUpload":
        up = s3.create_multipart_upload(Bucket=bucket, Key=key, **extra)
        part = s3.upload_part(
            Bucket=bucket, Key=key, UploadId=up["UploadId"], PartNumber=1, Body=b"m" * 100
        )
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=up["UploadId"],
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
        )
    elif op == "CopyObject":
        s3.put_object(Bucket=bucket, Key="src", Body=b"source")
        s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": "src"}, **extra)
    else:
        s3.put_object(Bucket=bucket, Key="src", Body=b"source" * 10)
        up = s3.create_multipart_upload(Bucket=bucket, Key=key)
        try:
            s3.upload_part_copy(
                Bucket=bucket,
                Key=key,
                UploadId=up["UploadId"],
                PartNumber=1,
                CopySource={"Bucket": bucket, "Key": "src"},
            )
        finally:
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=up["UploadId"])


def test_no_write_leaves_without_the_policy(store: StoreInfo, admin_s3: S3Client) -> None:
    bucket = f"prop-{uuid.uuid4().hex[:16]}"
    admin_s3.create_bucket(Bucket=bucket)
    clients = [(enc, client_for(store, enc)) for enc in modes(store)]
    refused = sent_total = 0
    unproven: list[tuple[str, bool]] = []

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        derandomize=True,
    )
    @given(
        which=st.integers(min_value=0, max_value=len(clients) - 1),
        op=st.sampled_from(WRITE_OPS),
        key=keys,
        extra=extras,
    )
    def run(which: int, op: str, key: str, extra: dict[str, Any]) -> None:
        nonlocal refused, sent_total
        enc, s3 = clients[which]
        if op == "UploadPartCopy":
            extra = {}
        wire = Wire().attach(s3)
        try:
            call(s3, op, bucket, key, extra)
        except (safes3.ACLRefusedError, safes3.EncryptionConflictError):
            refused += 1
            assert any(p in extra for p in (*ACL_PARAMS, "ServerSideEncryption"))
            starts = [s for s in wire.sent if key in s.url and "src" not in s.url]
            assert starts == [], "a refused call must send nothing"
        except safes3.EncryptionNotAppliedError as exc:
            unproven.append((key, exc.cleaned_up))
        except ClientError:
            pass
        finally:
            s3.meta.events.unregister("before-send.s3", wire.record)
        check_wire(wire.sent, enc)
        sent_total += len(wire.sent)

    try:
        run()
        assert refused > 0
        assert sent_total > 20, (
            "most examples must reach the wire for the property to mean anything"
        )
        for key, cleaned_up in unproven:
            assert cleaned_up
            with pytest.raises(ClientError):
                admin_s3.head_object(Bucket=bucket, Key=key)
    finally:
        empty_bucket(admin_s3, bucket)
        admin_s3.delete_bucket(Bucket=bucket)
