"""rekey on a versioned bucket: the replaced versions, and a rewrite that cannot be proven.

Real stores.  The last test goes through tests/httpproxy.py and synthesises
one thing: rekey's own proof HeadObject of the version it wrote (a HEAD
naming ``versionId`` with the SSE-C key) loses the store's SSE-C echo
headers, as a store that stored the object unencrypted would answer.
Everything else is the real store's.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.awslike import proxy_for, run_cli
from tests.httpproxy import Reply, Request
from tests.storeinfo import StoreInfo

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.store

KEYS = ["v/a", "v/b"]


def _versioned_plaintext(admin_s3: S3Client, bucket: str) -> dict[str, str]:
    admin_s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return {
        k: admin_s3.put_object(Bucket=bucket, Key=k, Body=k.encode())["VersionId"] for k in KEYS
    }


def _all_versions(admin_s3: S3Client, bucket: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for v in admin_s3.list_object_versions(Bucket=bucket).get("Versions", []):
        found.setdefault(v["Key"], []).append(v["VersionId"])
    return found


def _rekey(store: StoreInfo, bucket: str, state: Path, *flags: str, **kw: object) -> object:
    return run_cli(
        store,
        "rekey",
        f"s3://{bucket}/v/",
        "--encrypt",
        "--state",
        str(state),
        "--json",
        *flags,
        SAFES3_ENCRYPTION="sse-c:K",
        K=base64.b64encode(b"k" * 32).decode(),
        **kw,  # type: ignore[arg-type]
    )


def test_replaced_plaintext_versions_are_reported_or_purged(
    store: StoreInfo, bucket: str, admin_s3: S3Client, tmp_path: Path
) -> None:
    plain = _versioned_plaintext(admin_s3, bucket)
    kept = _rekey(store, bucket, tmp_path / "one")
    assert kept.returncode == 0, kept.stderr  # type: ignore[attr-defined]
    summary = json.loads(kept.stdout.decode().splitlines()[-1])  # type: ignore[attr-defined]
    assert summary["old_versions_kept"] == len(KEYS)
    assert b"--purge-old-versions" in kept.stderr  # type: ignore[attr-defined]
    for k in KEYS:
        assert plain[k] in _all_versions(admin_s3, bucket)[k]

    for k in KEYS:  # a second round of plaintext, purged this time
        plain[k] = admin_s3.put_object(Bucket=bucket, Key=k, Body=k.encode())["VersionId"]
    purged = _rekey(store, bucket, tmp_path / "two", "--purge-old-versions")
    assert purged.returncode == 0, purged.stderr  # type: ignore[attr-defined]
    left = _all_versions(admin_s3, bucket)
    for k in KEYS:
        assert plain[k] not in left[k]
        latest = admin_s3.list_object_versions(Bucket=bucket, Prefix=k)["Versions"][0]
        assert latest["IsLatest"]


def test_a_rewrite_that_cannot_be_proven_is_removed_by_its_version(
    store: StoreInfo, bucket: str, admin_s3: S3Client, tmp_path: Path
) -> None:
    plain = _versioned_plaintext(admin_s3, bucket)

    def unproven(request: Request, status: int, headers: dict[str, str]) -> Reply | None:
        if (
            request.method == "HEAD"
            and "versionId=" in request.target
            and "x-amz-server-side-encryption-customer-algorithm" in request.headers
        ):
            return Reply(
                status,
                {k: v for k, v in headers.items() if "server-side-encryption" not in k},
            )
        return None

    with proxy_for(store) as proxy:
        proxy.rewrite(unproven)
        proc = _rekey(store, bucket, tmp_path / "state", proxy=proxy)
    assert proc.returncode == 1  # type: ignore[attr-defined]
    summary = json.loads(proc.stdout.decode().splitlines()[-1])  # type: ignore[attr-defined]
    assert sorted(summary["failed"]) == KEYS
    assert _all_versions(admin_s3, bucket) == {k: [plain[k]] for k in KEYS}
    for k in KEYS:
        assert admin_s3.get_object(Bucket=bucket, Key=k)["Body"].read() == k.encode()
    assert os.path.exists(tmp_path / "state")
