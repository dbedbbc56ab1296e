"""On a versioned bucket a write failing its check leaves no version; read-backs pin the version.

The real store behind tests/httpproxy.py.  Synthesised, and only this: the
engine's read-back HeadObject (the one with ``x-amz-checksum-mode``) gets
the store's real answer with Content-Length one byte larger, as a store that
stored the wrong length would answer; and PutObject answers lose their
``x-amz-checksum-*`` echo, as Ceph's do, so that SeaweedFS's single PUT is
read back too.  The race test synthesises nothing: before the engine's
read-back is relayed, another client really writes a new version.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

import safes3
from tests.awslike import proxy_for
from tests.clients import client_for
from tests.httpproxy import Reply, Request
from tests.storeinfo import StoreInfo

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.store

MiB = 1 << 20
SETTINGS = safes3.TransferSettings(part_size=5 * MiB, sleep=lambda _s: None)
SIZES = {"small": 1000, "multipart": 11 * MiB}


def _is_readback(request: Request) -> bool:
    return request.method == "HEAD" and request.headers.get("x-amz-checksum-mode") == "ENABLED"


def _longer(request: Request, status: int, headers: dict[str, str]) -> Reply | None:
    if _is_readback(request) and status == 200:
        changed = dict(headers)
        changed["content-length"] = str(int(headers["content-length"]) + 1)
        return Reply(200, changed)
    if request.method == "PUT" and "uploadId" not in request.target and status == 200:
        kept = {k: v for k, v in headers.items() if not k.startswith("x-amz-checksum-")}
        if kept != headers:
            return Reply(200, kept)
    return None


def _versions(admin_s3: S3Client, bucket: str, key: str) -> tuple[list[str], list[str]]:
    found = admin_s3.list_object_versions(Bucket=bucket, Prefix=key)
    return (
        [v["VersionId"] for v in found.get("Versions", [])],
        [m["VersionId"] for m in found.get("DeleteMarkers", [])],
    )


@pytest.mark.parametrize("size", SIZES.values(), ids=list(SIZES))
def test_a_write_failing_its_integrity_check_leaves_no_version(
    store: StoreInfo, bucket: str, admin_s3: S3Client, size: int
) -> None:
    admin_s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    earlier = admin_s3.put_object(Bucket=bucket, Key="k", Body=b"another writer's")["VersionId"]
    with proxy_for(store) as proxy:
        proxy.rewrite(_longer)
        s3 = client_for(
            store,
            safes3.SSEKMS(store.kms_key_ids[0]),
            endpoint_url=proxy.endpoint_url,
            ca_bundle=proxy.ca_bundle_for_clients,
        )
        with pytest.raises(safes3.IntegrityError, match="deleted"):
            safes3.upload(s3, os.urandom(size), bucket, "k", settings=SETTINGS)
        assert any(_is_readback(r) for r, _ in proxy.rewritten)
    assert _versions(admin_s3, bucket, "k") == ([earlier], [])
    assert admin_s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"another writer's"


@pytest.mark.parametrize("size", SIZES.values(), ids=list(SIZES))
def test_the_read_back_checks_the_version_this_write_made(
    store: StoreInfo, bucket: str, admin_s3: S3Client, size: int
) -> None:
    admin_s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    raced: list[str] = []

    def other_writer(request: Request) -> None:
        if _is_readback(request) and not raced:
            reply = admin_s3.put_object(Bucket=bucket, Key="k", Body=b"raced in")
            raced.append(reply["VersionId"])

    data = os.urandom(size)
    with proxy_for(store) as proxy:
        proxy.before_relay(other_writer)
        proxy.rewrite(_longer_echo_only)
        s3 = client_for(
            store,
            safes3.SSEKMS(store.kms_key_ids[0]),
            endpoint_url=proxy.endpoint_url,
            ca_bundle=proxy.ca_bundle_for_clients,
        )
        result = safes3.upload(s3, data, bucket, "k", settings=SETTINGS)
    assert raced, "the engine never read the object back"
    versions, markers = _versions(admin_s3, bucket, "k")
    assert markers == []
    assert sorted(versions) == sorted([raced[0], str(result.version_id)])
    mine = admin_s3.get_object(Bucket=bucket, Key="k", VersionId=str(result.version_id))
    assert mine["Body"].read() == data


def _longer_echo_only(request: Request, status: int, headers: dict[str, str]) -> Reply | None:
    """Only the checksum echo of PutObject is dropped (so the single PUT is read back)."""
    if _is_readback(request):
        return None
    return _longer(request, status, headers)
