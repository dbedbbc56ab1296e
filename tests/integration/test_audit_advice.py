"""The audit's advice leaves the bucket usable; it streams; odd answers are findings.

Real stores throughout.  Two tests go through tests/httpproxy.py: one only
records the order of the real requests; the other replaces the real
GetBucketPolicy answer with a 200 whose body is not a policy document (as a
store bug or a foreign tool could leave), everything else being the store's.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest

import safes3
from safes3._cli._audit import audit_bucket
from safes3._cli._auditaccess import proposed_public_access_block
from safes3._cli._settings import READ_ONLY_ENCRYPTION
from tests.awslike import proxy_for, run_cli
from tests.clients import client_for
from tests.httpproxy import Reply, Request
from tests.storeinfo import StoreInfo

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.store


def _owner_can_write(store: StoreInfo, bucket: str, admin_s3: S3Client) -> None:
    """The owner writes (plain PutObject, a safes3 SSE-KMS put and multipart), reads and lists."""
    admin_s3.put_object(Bucket=bucket, Key="owner/plain", Body=b"owner")
    kms = client_for(store, safes3.SSEKMS(store.kms_key_ids[0]))
    kms.put_object(Bucket=bucket, Key="owner/kms", Body=b"kms")
    safes3.upload(
        kms,
        os.urandom(11 << 20),
        bucket,
        "owner/multipart",
        settings=safes3.TransferSettings(part_size=5 << 20),
    )
    assert kms.get_object(Bucket=bucket, Key="owner/kms")["Body"].read() == b"kms"
    listed = admin_s3.list_objects_v2(Bucket=bucket, Prefix="owner/")
    assert [o["Key"] for o in listed["Contents"]] == [
        "owner/kms",
        "owner/multipart",
        "owner/plain",
    ]


def test_the_fixes_the_audit_proposes_leave_the_bucket_writable_by_its_owner(
    store: StoreInfo, bucket: str, admin_s3: S3Client
) -> None:
    profile = safes3.PROFILES[store.extra["profile"]]
    first = run_cli(store, "audit", "--json", bucket)
    checks = {f["check"]: f for f in json.loads(first.stdout)["buckets"][0]["findings"]}
    assert "no-tls-deny" in checks, first.stdout
    try:
        if profile.public_access_block:
            assert "public-access-block" in checks
            admin_s3.put_public_access_block(
                Bucket=bucket,
                PublicAccessBlockConfiguration=proposed_public_access_block(profile),  # type: ignore[arg-type]
            )
        proposed = json.dumps(checks)
        assert "--deny-insecure-transport" in proposed
        for flag in ("--deny-insecure-transport", "--deny-acl-changes"):
            if flag not in proposed:
                continue
            applied = run_cli(store, "policy", bucket, flag, "--apply")
            assert applied.returncode == 0, applied.stderr
        _owner_can_write(store, bucket, admin_s3)
        again = run_cli(store, "audit", "--json", bucket)
        left = {f["check"] for f in json.loads(again.stdout)["buckets"][0]["findings"]}
        assert not left & {
            "public-access-block",
            "no-tls-deny",
            "public-access-block-breaks-writes",
        }
    finally:
        admin_s3.delete_bucket_policy(Bucket=bucket)
        if profile.public_access_block:
            admin_s3.delete_public_access_block(Bucket=bucket)


def test_the_listing_is_streamed_through_a_bounded_pool(
    store: StoreInfo, bucket: str, admin_s3: S3Client
) -> None:
    """Objects are read while the listing goes on, never more than 2 x workers ahead."""
    count, page, workers = 160, 40, 2
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda n: admin_s3.put_object(Bucket=bucket, Key=f"o/{n:04d}", Body=b"x"),
                range(count),
            )
        )
    with proxy_for(store) as proxy:
        s3 = client_for(
            store,
            READ_ONLY_ENCRYPTION,
            endpoint_url=proxy.endpoint_url,
            ca_bundle=proxy.ca_bundle_for_clients,
        )
        profile = safes3.PROFILES[store.extra["profile"]]
        report = audit_bucket(s3, bucket, profile, workers=workers, page_size=page)
        order = [(r.method, "list-type=2" in r.target) for r in proxy.relayed]
    assert report.inventory == {"none": {"objects": count, "bytes": count}}
    lists = [i for i, (_, is_list) in enumerate(order) if is_list]
    assert len(lists) >= count // page
    for n, at in enumerate(lists[1:], 1):
        heads_before = sum(1 for method, _ in order[:at] if method == "HEAD")
        assert heads_before >= n * page - 2 * workers, (n, heads_before)


def test_a_malformed_bucket_policy_is_a_finding_not_a_traceback(
    store: StoreInfo, bucket: str, admin_s3: S3Client
) -> None:
    admin_s3.put_object(Bucket=bucket, Key="k", Body=b"x")

    def broken_policy(request: Request, status: int, headers: dict[str, str]) -> Reply | None:
        if request.method == "GET" and request.target.endswith("?policy"):
            return Reply(200, {"Content-Type": "application/json"}, b'{"Statement": "oops"')
        return None

    with proxy_for(store) as proxy:
        proxy.rewrite(broken_policy)
        proc = run_cli(store, "audit", "--json", bucket, proxy=proxy)
        assert proxy.rewritten, "the policy answer was never replaced"
    assert proc.returncode == 5, proc.stderr
    findings = json.loads(proc.stdout)["buckets"][0]["findings"]
    unreadable = [f for f in findings if f["check"] == "policy-unreadable"]
    assert unreadable
    assert unreadable[0]["severity"] == "high"
    assert b"Traceback" not in proc.stderr


def test_an_older_plaintext_version_is_reported(
    store: StoreInfo, bucket: str, admin_s3: S3Client
) -> None:
    """Overwriting a plaintext object with an encrypted one leaves the plaintext stored."""
    admin_s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old = admin_s3.put_object(Bucket=bucket, Key="doc", Body=b"plaintext v1")["VersionId"]
    kms = client_for(store, safes3.SSEKMS(store.kms_key_ids[0]))
    kms.put_object(Bucket=bucket, Key="doc", Body=b"encrypted v2")
    proc = run_cli(store, "audit", "--json", bucket)
    assert proc.returncode == 5, proc.stderr
    report = json.loads(proc.stdout)["buckets"][0]
    unencrypted = [f for f in report["findings"] if f["check"] == "unencrypted-objects"]
    assert unencrypted, report["findings"]
    assert f"noncurrent version {old}" in unencrypted[0]["evidence"]
    assert report["inventory"]["none"] == {"objects": 1, "bytes": 12}
    assert report["inventory"]["SSE-KMS"] == {"objects": 1, "bytes": 12}
