"""The gate and presigning against the real stores: what the store kept, and refused.

A presigned URL or POST form is used by plain HTTP code (urllib3 with the
store's CA), as a holder of it would; the raw admin client then reads what
the store stored.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

import pytest
import urllib3
from botocore.exceptions import ClientError

import safes3
from tests.clients import client_for
from tests.conftest import raw_client
from tests.storeinfo import StoreInfo

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def kms(store: StoreInfo) -> safes3.SSEKMS:
    return safes3.SSEKMS(store.kms_key_ids[0])


def http(store: StoreInfo) -> urllib3.PoolManager:
    return urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=store.ca_bundle)


def test_presigned_put_binds_the_encryption(
    store: StoreInfo, bucket: str, admin_s3: S3Client
) -> None:
    s3 = client_for(store, kms(store))
    params = {"Bucket": bucket, "Key": "p"}
    if not safes3.PROFILES[store.extra["profile"]].unsigned_headers_refused:
        with pytest.raises(safes3.OperationRefusedError, match="could add an ACL"):
            s3.generate_presigned_url("put_object", Params=params)
        return
    url = s3.generate_presigned_url("put_object", Params=params)
    bare = http(store).request("PUT", url, body=b"no-headers")
    assert bare.status == 403, "a holder must not be able to leave the encryption out"
    headers = dict(kms(store).object_headers)
    acl = http(store).request(
        "PUT", url, body=b"acl", headers={**headers, "x-amz-acl": "public-read"}
    )
    assert acl.status == 403, "a holder must not be able to add an ACL"
    sent = http(store).request("PUT", url, body=b"with-headers", headers=headers)
    assert sent.status == 200, sent.data
    head = admin_s3.head_object(Bucket=bucket, Key="p")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert store.kms_key_ids[0] in head["SSEKMSKeyId"]


def test_contract_unsigned_headers_on_a_presigned_put(
    store: StoreInfo, bucket: str, admin_s3: S3Client
) -> None:
    """The store fact behind ``unsigned_headers_refused`` (plain boto3 presigns here)."""
    plain = raw_client(store, signature_version="s3v4")
    url = plain.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "u"})
    signed = http(store).request("PUT", url, body=b"u")
    assert signed.status == 200, signed.data
    answer = http(store).request("PUT", url, body=b"u", headers={"x-amz-acl": "private"})
    refused = answer.status == 403
    assert refused is safes3.PROFILES[store.extra["profile"]].unsigned_headers_refused


def test_presigned_get_swapped_to_put_is_refused_before_signing(
    store: StoreInfo, bucket: str, admin_s3: S3Client
) -> None:
    s3 = client_for(store, kms(store))
    with pytest.raises(safes3.OperationRefusedError):
        s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": "g"}, HttpMethod="PUT"
        )
    assert admin_s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


def test_presigned_post_form_writes_encrypted_and_cannot_be_stripped(
    store: StoreInfo, bucket: str, admin_s3: S3Client
) -> None:
    s3 = client_for(store, kms(store))
    form = s3.generate_presigned_post(bucket, "form")
    fields = dict(form["fields"])
    ok = http(store).request(
        "POST", form["url"], fields={**fields, "file": ("f", b"posted")}, encode_multipart=True
    )
    assert ok.status in (200, 201, 204), ok.data
    head = admin_s3.head_object(Bucket=bucket, Key="form")
    assert head["ServerSideEncryption"] == "aws:kms"
    form2 = s3.generate_presigned_post(bucket, "stripped")
    stripped = {k: v for k, v in form2["fields"].items() if not k.startswith("x-amz-server-side")}
    bad = http(store).request(
        "POST", form2["url"], fields={**stripped, "file": ("f", b"x")}, encode_multipart=True
    )
    assert bad.status == 403, bad.data
    listed = admin_s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    assert [o["Key"] for o in listed] == ["form"]


def test_access_loosening_never_reaches_the_store(
    store: StoreInfo, bucket: str, admin_s3: S3Client
) -> None:
    s3 = client_for(store, kms(store))
    public = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }
    with pytest.raises(safes3.OperationRefusedError, match="allows everyone"):
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(public))
    with pytest.raises(ClientError):
        admin_s3.get_bucket_policy(Bucket=bucket)
    allowed = client_for(store, kms(store), allow_operations={"PutBucketPolicy"})
    allowed.put_bucket_policy(Bucket=bucket, Policy=json.dumps(public))
    assert json.loads(admin_s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]


def test_ssec_object_written_through_gate_on_a_fresh_key(
    store: StoreInfo, bucket: str, admin_s3: S3Client
) -> None:
    key = safes3.SSEC(os.urandom(32))
    s3 = client_for(store, key)
    s3.put_object(Bucket=bucket, Key="c", Body=b"secret")
    assert s3.get_object(Bucket=bucket, Key="c")["Body"].read() == b"secret"
    head = admin_s3.head_object(Bucket=bucket, Key="c", **dict(key.customer_params))  # type: ignore[arg-type]
    assert head["SSECustomerKeyMD5"].split(",")[0].strip() == key.key_md5
