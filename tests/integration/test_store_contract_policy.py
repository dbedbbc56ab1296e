"""Store facts behind the audit's advice and ``policy --apply``'s refusals, from the live stores.

Plain boto3 as the bucket owner; each fact is a row of the capability table
(``safes3.PROFILES``), so a store that changes fails here first.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import uuid
from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError

import safes3
from tests.conftest import empty_bucket, raw_client
from tests.storeinfo import StoreInfo

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import PublicAccessBlockConfigurationTypeDef

pytestmark = pytest.mark.store


def caps(store: StoreInfo) -> safes3.StoreProfile:
    return safes3.PROFILES[store.extra["profile"]]


def test_block_public_acls_and_a_plain_put_object(
    store: StoreInfo, bucket: str, admin_s3: S3Client
) -> None:
    """``block_public_acls_blocks_puts``: BlockPublicAcls alone, then a PutObject with no ACL."""
    only_acls: PublicAccessBlockConfigurationTypeDef = {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": False,
        "BlockPublicPolicy": False,
        "RestrictPublicBuckets": False,
    }
    if not caps(store).public_access_block:
        with pytest.raises(ClientError):
            admin_s3.put_public_access_block(
                Bucket=bucket, PublicAccessBlockConfiguration=only_acls
            )
        assert not caps(store).block_public_acls_blocks_puts
        return
    admin_s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=only_acls)
    try:
        if caps(store).block_public_acls_blocks_puts:
            with pytest.raises(ClientError, match="AccessDenied"):
                admin_s3.put_object(Bucket=bucket, Key="k", Body=b"no ACL header at all")
        else:
            admin_s3.put_object(Bucket=bucket, Key="k", Body=b"no ACL header at all")
    finally:
        admin_s3.delete_public_access_block(Bucket=bucket)
    admin_s3.put_object(Bucket=bucket, Key="k", Body=b"writable again")


def _remove_locked_bucket(store: StoreInfo, name: str) -> None:
    """Remove a bucket its owner can no longer touch over S3, with the store's own admin path."""
    admin_cmd = store.extra.get("admin_cmd")
    if admin_cmd:
        subprocess.run(
            [*admin_cmd, "bucket", "rm", f"--bucket={name}", "--purge-objects", "--bypass-gc"],
            check=True,
            capture_output=True,
            timeout=120,
        )
        return
    filer = store.extra.get("ports", {}).get("filer")
    assert filer, f"{store.name}: no admin path to remove a bucket the owner is locked out of"
    conn = http.client.HTTPConnection("127.0.0.1", filer, timeout=60)
    conn.request("DELETE", f"/buckets/{name}?recursive=true&ignoreRecursiveError=true")
    assert conn.getresponse().status in (200, 202, 204)
    conn.close()


def test_a_policy_denying_the_owner_and_the_owners_policy_calls(store: StoreInfo) -> None:
    """``policy_binds_owner``: after a Deny of everything from other networks, can the owner
    still read and delete the policy over S3?"""
    s3 = raw_client(store)
    name = f"t-lock-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyOutsideAllowedNetworks",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
                "Condition": {"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24"]}},
            }
        ],
    }
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
    locked = False
    try:
        if caps(store).policy_binds_owner:
            calls: list[Callable[[], object]] = [
                lambda: s3.get_bucket_policy(Bucket=name),
                lambda: s3.list_objects_v2(Bucket=name),
                lambda: s3.get_object(Bucket=name, Key="k"),
                lambda: s3.delete_bucket_policy(Bucket=name),
            ]
            for call in calls:
                with pytest.raises(ClientError, match="AccessDenied"):
                    call()
            locked = True
        else:
            s3.get_bucket_policy(Bucket=name)
            s3.delete_bucket_policy(Bucket=name)
    finally:
        if locked:
            _remove_locked_bucket(store, name)
        else:
            s3.delete_bucket_policy(Bucket=name)
            empty_bucket(s3, name)
            s3.delete_bucket(Bucket=name)
