"""What the test store itself does, checked against the live server with plain boto3.

The rest of the suite leans on these facts (a private CA, enforced SSE-C and
SSE-KMS, ciphertext at rest, working STS, effective ACLs, the checksum quirk), so
they are asserted here once, from the server's answers, before anything builds
on them.  A store that drifts (new version, other settings) fails here first.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import uuid
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import certifi
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError, SSLError

import safes3
from tests.conftest import raw_client
from tests.storeinfo import StoreInfo

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.store

# Wrong-key reads: Ceph answers 400 InvalidArgument, AWS and SeaweedFS 403 AccessDenied.
WRONG_KEY_STATUSES = (400, 403)

# Distinctive and repetitive, so any plaintext copy at rest is easy to spot.
PLAINTEXT = b"safes3 contract plaintext marker. " * 300


def caps(store: StoreInfo) -> safes3.StoreProfile:
    """The store's row in safes3's capability table (the one the client reads too)."""
    return safes3.PROFILES[store.extra["profile"]]


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response = exc.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"].get("Code", "")


def client(
    store: StoreInfo,
    *,
    verify: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    session_token: str | None = None,
    **config: Any,
) -> S3Client:
    """A plain boto3 client with what ``raw_client`` fixes made choosable (CA, token, config)."""
    settings: dict[str, Any] = {
        "s3": {"addressing_style": "path"},
        "retries": {"max_attempts": 1, "mode": "standard"},
        **config,
    }
    return boto3.session.Session().client(
        "s3",
        endpoint_url=store.endpoint_url,
        region_name=store.region,
        aws_access_key_id=access_key or store.admin.access_key,
        aws_secret_access_key=secret_key or store.admin.secret_key,
        aws_session_token=session_token,
        verify=verify or store.ca_bundle,
        config=Config(**settings),
    )


def plaintext_at_rest(
    store: StoreInfo, bucket: str, key: str, tmp_path: Path, marker: bytes
) -> bool:
    """Whether the store keeps ``PLAINTEXT`` readable beneath its S3 layer.

    Ceph: the object's RADOS head object, read with the rados tool.
    SeaweedFS: every file of its data folder, searched for the marker.
    """
    rados = store.extra.get("rados_cmd")
    if rados:
        pool = store.extra["data_pool"]
        listing = subprocess.run(
            [*rados, "-p", pool, "ls"], capture_output=True, text=True, check=True, timeout=60
        ).stdout.split()
        heads = [name for name in listing if name.endswith(f"_{key}")]
        assert len(heads) == 1, f"expected one RADOS head object for {key!r}, found {heads}"
        out = tmp_path / "raw"
        subprocess.run([*rados, "-p", pool, "get", heads[0], str(out)], check=True, timeout=60)
        raw = out.read_bytes()
        assert len(raw) >= 8192
        return marker in raw
    data_dir = Path(store.extra["data_dir"])
    return any(marker in path.read_bytes() for path in data_dir.rglob("*") if path.is_file())


def test_private_ca_is_trusted_and_public_bundle_is_not(store: StoreInfo) -> None:
    assert "Buckets" in client(store).list_buckets()

    with pytest.raises(SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        client(store, verify=certifi.where()).list_buckets()


def test_sse_c_round_trip_and_wrong_key_refused(
    store: StoreInfo, admin_s3: S3Client, bucket: str
) -> None:
    key = os.urandom(32)
    key_md5 = base64.b64encode(hashlib.md5(key).digest()).decode()  # noqa: S324
    put = admin_s3.put_object(
        Bucket=bucket, Key="c", Body=PLAINTEXT, SSECustomerAlgorithm="AES256", SSECustomerKey=key
    )
    assert put["SSECustomerAlgorithm"] == "AES256"
    assert put["SSECustomerKeyMD5"] == key_md5

    got = admin_s3.get_object(
        Bucket=bucket, Key="c", SSECustomerAlgorithm="AES256", SSECustomerKey=key
    )
    # SeaweedFS repeats the header value ("X, X"); the key MD5 must be what it names.
    assert {md5.strip() for md5 in got["SSECustomerKeyMD5"].split(",")} == {key_md5}
    assert got["Body"].read() == PLAINTEXT

    with pytest.raises(ClientError) as wrong:
        admin_s3.get_object(
            Bucket=bucket, Key="c", SSECustomerAlgorithm="AES256", SSECustomerKey=os.urandom(32)
        )
    assert error_of(wrong)[0] in WRONG_KEY_STATUSES

    with pytest.raises(ClientError) as missing:
        admin_s3.get_object(Bucket=bucket, Key="c")
    assert error_of(missing)[0] in (400, 403)


def test_sse_kms_round_trip_and_unknown_key_refused(
    store: StoreInfo, admin_s3: S3Client, bucket: str
) -> None:
    key_id = store.kms_key_ids[0]
    put = admin_s3.put_object(
        Bucket=bucket, Key="k", Body=PLAINTEXT, ServerSideEncryption="aws:kms", SSEKMSKeyId=key_id
    )
    assert put["ServerSideEncryption"] == "aws:kms"
    assert put["SSEKMSKeyId"] == key_id

    got = admin_s3.get_object(Bucket=bucket, Key="k")
    assert got["ServerSideEncryption"] == "aws:kms"
    assert got["SSEKMSKeyId"] == key_id
    assert got["Body"].read() == PLAINTEXT

    def put_unknown() -> object:
        return admin_s3.put_object(
            Bucket=bucket,
            Key="u",
            Body=PLAINTEXT,
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=f"safes3-no-such-key-{uuid.uuid4().hex[:8]}",
        )

    if caps(store).kms_unknown_key_refused:
        with pytest.raises(ClientError) as unknown:
            put_unknown()
        assert error_of(unknown)[0] == 403
        assert "Contents" not in admin_s3.list_objects_v2(Bucket=bucket, Prefix="u")
    else:
        put_unknown()  # the store makes a new key on first use: a typo is not caught
        assert admin_s3.head_object(Bucket=bucket, Key="u")["ServerSideEncryption"] == "aws:kms"


@pytest.mark.parametrize("mode", ["plain", "sse-s3", "sse-kms", "sse-c"])
def test_data_at_rest_is_ciphertext_exactly_when_encrypted(
    store: StoreInfo, admin_s3: S3Client, bucket: str, tmp_path: Path, mode: str
) -> None:
    key = f"at-rest-{mode}-{uuid.uuid4().hex[:12]}"
    body = os.urandom(8192)  # incompressible: SeaweedFS compresses what it can
    marker = body[4000:4064]
    variants: dict[str, dict[str, Any]] = {
        "plain": {},
        "sse-s3": {"ServerSideEncryption": "AES256"},
        "sse-kms": {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": store.kms_key_ids[0]},
        "sse-c": {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": os.urandom(32)},
    }
    admin_s3.put_object(Bucket=bucket, Key=key, Body=body, **variants[mode])

    encrypted = {
        "plain": False,
        "sse-s3": caps(store).sse_s3_honoured,
        "sse-kms": True,
        "sse-c": True,
    }[mode]
    assert plaintext_at_rest(store, bucket, key, tmp_path, marker) is not encrypted


def test_assume_role_credentials_work_and_bad_token_is_refused(
    store: StoreInfo, bucket: str
) -> None:
    sts = boto3.session.Session().client(
        "sts",
        endpoint_url=store.sts_endpoint_url,
        region_name=store.region,
        aws_access_key_id=store.admin.access_key,
        aws_secret_access_key=store.admin.secret_key,
        verify=store.ca_bundle,
    )
    creds, other_session = (
        sts.assume_role(
            RoleArn=store.role_arn, RoleSessionName="safes3-contract", DurationSeconds=900
        )["Credentials"]
        for _ in range(2)
    )
    assert creds["AccessKeyId"] != store.admin.access_key

    def as_role(token: str | None) -> S3Client:
        return client(
            store,
            access_key=creds["AccessKeyId"],
            secret_key=creds["SecretAccessKey"],
            session_token=token,
            request_checksum_calculation="when_required",
        )

    role_s3 = as_role(creds["SessionToken"])
    assert bucket in [b["Name"] for b in role_s3.list_buckets()["Buckets"]]
    role_s3.put_object(Bucket=bucket, Key="from-role", Body=b"role")
    assert role_s3.get_object(Bucket=bucket, Key="from-role")["Body"].read() == b"role"

    for token in (None, other_session["SessionToken"]):
        with pytest.raises(ClientError) as refused:
            as_role(token).list_buckets()
        assert error_of(refused)[0] == 403, token

    # Malformed tokens are refused too, as 400 or 403 depending on how they fail to decode.
    with pytest.raises(ClientError) as malformed:
        as_role("not-a-session-token").list_buckets()
    assert error_of(malformed)[0] in (400, 403)


def test_public_read_object_acl_is_accepted_and_effective(
    store: StoreInfo, admin_s3: S3Client, bucket: str
) -> None:
    admin_s3.put_object(Bucket=bucket, Key="pub", Body=b"public bytes")
    anonymous = boto3.session.Session().client(
        "s3",
        endpoint_url=store.endpoint_url,
        region_name=store.region,
        verify=store.ca_bundle,
        config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"}),
    )
    with pytest.raises(ClientError) as private:
        anonymous.get_object(Bucket=bucket, Key="pub")
    assert error_of(private)[0] == 403

    admin_s3.put_object_acl(Bucket=bucket, Key="pub", ACL="public-read")
    grants = admin_s3.get_object_acl(Bucket=bucket, Key="pub")["Grants"]
    assert {
        "Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
        "Permission": "READ",
    } in grants

    if caps(store).object_acl_effective:
        assert anonymous.get_object(Bucket=bucket, Key="pub")["Body"].read() == b"public bytes"
    else:
        with pytest.raises(ClientError):
            anonymous.get_object(Bucket=bucket, Key="pub")


def test_default_checksum_trailer_versus_header_checksums(store: StoreInfo, bucket: str) -> None:
    # botocore's own default, stated so a config file or env var cannot change it.
    default = client(store, request_checksum_calculation="when_supported")
    if caps(store).trailer_checksums:
        default.put_object(Bucket=bucket, Key="trailer", Body=PLAINTEXT)
    else:
        with pytest.raises(ClientError) as trailer:
            default.put_object(Bucket=bucket, Key="trailer", Body=PLAINTEXT)
        assert error_of(trailer) == (411, "MissingContentLength")

    sha256 = base64.b64encode(hashlib.sha256(PLAINTEXT).digest()).decode()
    default.put_object(Bucket=bucket, Key="sha256", Body=PLAINTEXT, ChecksumSHA256=sha256)

    md5 = base64.b64encode(hashlib.md5(PLAINTEXT).digest()).decode()  # noqa: S324
    raw_client(store).put_object(Bucket=bucket, Key="md5", Body=PLAINTEXT, ContentMD5=md5)

    for key in ("sha256", "md5"):
        assert default.get_object(Bucket=bucket, Key=key)["Body"].read() == PLAINTEXT


def test_which_checksums_the_store_verifies(store: StoreInfo, bucket: str) -> None:
    s3 = raw_client(store)
    crc = zlib.crc32(PLAINTEXT)
    wrong_crc = base64.b64encode((crc ^ 1).to_bytes(4, "big")).decode()
    if caps(store).checksum_headers_verified:
        with pytest.raises(ClientError, match=r"BadDigest|InvalidDigest|Checksum"):
            s3.put_object(Bucket=bucket, Key="crc", Body=PLAINTEXT, ChecksumCRC32=wrong_crc)
    else:
        s3.put_object(Bucket=bucket, Key="crc", Body=PLAINTEXT, ChecksumCRC32=wrong_crc)
        assert s3.get_object(Bucket=bucket, Key="crc")["Body"].read() == PLAINTEXT
    wrong_md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()  # noqa: S324
    with pytest.raises(ClientError, match=r"BadDigest|InvalidDigest"):
        s3.put_object(Bucket=bucket, Key="md5", Body=PLAINTEXT, ContentMD5=wrong_md5)
