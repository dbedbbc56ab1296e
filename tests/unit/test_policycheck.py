"""Which generated statements would deny the identity applying them."""

from __future__ import annotations

from safes3 import PROFILES
from safes3._cli import _policygen as pg
from safes3._cli._policycheck import Caller, denials

HERE = Caller(address="10.1.2.3")


def test_ip_ranges_deny_the_caller_only_when_they_exclude_it() -> None:
    assert denials(pg.restrict_to_ips("b", ["10.0.0.0/8"]), "b", HERE) == []
    found = denials(pg.restrict_to_ips("b", ["192.0.2.0/24"]), "b", HERE)
    assert len(found) == 1
    assert "10.1.2.3" in found[0]
    assert "s3:GetBucketPolicy" in found[0]
    assert denials(pg.restrict_to_ips("b", ["10.0.0.0/8"]), "b", Caller(address=None))


def test_mfa_is_unknown_so_require_mfa_counts_as_denying() -> None:
    found = denials(pg.require_mfa("b", "secret/"), "b", HERE)
    assert found
    assert all("s3:GetObject" in f and "BucketPolicy" not in f for f in found)


def test_statements_that_leave_the_callers_access_alone() -> None:
    profile = PROFILES["ceph"]
    for group in (
        pg.deny_insecure_transport("b", profile),
        pg.deny_acl_changes("b"),
        pg.require_encryption("b", profile, "sse-kms"),
        pg.require_encryption("b", PROFILES["seaweedfs"], "sse-c"),
    ):
        assert denials(group, "b", HERE) == [], group


def test_unknown_conditions_and_unconditional_denies_count() -> None:
    odd = {
        "Sid": "Odd",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": "arn:aws:s3:::b",
        "Condition": {"StringEquals": {"aws:username": "x"}},
    }
    plain = {k: v for k, v in odd.items() if k != "Condition"}
    assert "cannot be evaluated" in denials([odd], "b", HERE)[0]
    assert "unconditionally" in denials([plain], "b", HERE)[0]
    assert denials([plain], "other", HERE) == []
