"""``policy --apply`` refuses a document that would deny the caller, on the live stores.

On both test stores a bucket-policy Deny binds the owner too
(``policy_binds_owner``, see test_store_contract_policy.py), so an applied
lockout could only be undone with the store's admin tools; the test removes
such a bucket that way if the refusal ever fails.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from tests.awslike import run_cli
from tests.conftest import empty_bucket, raw_client
from tests.integration.test_store_contract_policy import _remove_locked_bucket
from tests.storeinfo import StoreInfo

pytestmark = pytest.mark.store


@pytest.fixture
def own_bucket(store: StoreInfo) -> Iterator[str]:
    """A bucket this test removes itself, with the admin tools if the owner got locked out."""
    s3 = raw_client(store)
    name = f"t-lockout-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="secret/k", Body=b"x")
    try:
        yield name
    finally:
        try:
            s3.delete_bucket_policy(Bucket=name)
            empty_bucket(s3, name)
            s3.delete_bucket(Bucket=name)
        except ClientError:
            _remove_locked_bucket(store, name)


def _no_policy(store: StoreInfo, bucket: str) -> bool:
    try:
        raw_client(store).get_bucket_policy(Bucket=bucket)
    except ClientError as exc:
        return exc.response["Error"]["Code"] == "NoSuchBucketPolicy"
    return False


def test_allow_ip_excluding_the_caller_is_refused_and_nothing_is_put(
    store: StoreInfo, own_bucket: str
) -> None:
    proc = run_cli(store, "policy", own_bucket, "--allow-ip", "192.0.2.0/24", "--apply")
    assert proc.returncode == 1, proc.stderr
    assert b"127.0.0.1" in proc.stderr
    assert b"--allow-self-deny" in proc.stderr
    assert _no_policy(store, own_bucket)
    s3 = raw_client(store)
    assert s3.get_object(Bucket=own_bucket, Key="secret/k")["Body"].read() == b"x"


def test_allow_ip_including_the_caller_is_applied(store: StoreInfo, own_bucket: str) -> None:
    proc = run_cli(store, "policy", own_bucket, "--allow-ip", "127.0.0.0/8", "--apply")
    assert proc.returncode == 0, proc.stderr
    stored = json.loads(raw_client(store).get_bucket_policy(Bucket=own_bucket)["Policy"])
    assert [s["Sid"] for s in stored["Statement"]] == ["DenyOutsideAllowedNetworks"]


def test_require_mfa_needs_the_override_and_stays_removable(
    store: StoreInfo, own_bucket: str
) -> None:
    """The MFA Deny covers objects only: the owner keeps the policy calls and can remove it."""
    refused = run_cli(store, "policy", own_bucket, "--require-mfa", "secret/", "--apply")
    assert refused.returncode == 1
    assert b"MFA" in refused.stderr
    assert _no_policy(store, own_bucket)
    forced = run_cli(
        store, "policy", own_bucket, "--require-mfa", "secret/", "--apply", "--allow-self-deny"
    )
    assert forced.returncode == 0, forced.stderr
    assert b"warning" in forced.stderr
    s3 = raw_client(store)
    s3.delete_bucket_policy(Bucket=own_bucket)
    assert _no_policy(store, own_bucket)
