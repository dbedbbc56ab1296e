"""``safes3 policy --apply``: merge, refuse a document that would lock the caller out, put, verify.

A policy that denies the identity applying it is refused unless
``--allow-self-deny`` is given, because on Ceph RGW and SeaweedFS such a
policy binds the bucket owner too and cannot be read or removed over S3
afterwards (only the store's admin tools can); see :mod:`safes3._cli._policycheck`.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from botocore.exceptions import ClientError

from safes3._boundary import describe
from safes3._cli import _policygen as pg
from safes3._cli._policycheck import Caller, caller_address, denials
from safes3._exceptions import SafeS3Error
from safes3._session import Session

__all__ = ["apply_policy"]


def _current_policy(s3: Any, bucket: str) -> str | None:
    try:
        return str(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchBucketPolicy":
            return None
        raise


def _refusal(session: Session, bucket: str, ours: dict[str, Any], forced: bool) -> None:
    caller = Caller(address=caller_address(str(session.config.endpoint_url or "")))
    found = denials(ours["Statement"], bucket, caller)
    if not found:
        return
    profile = session.config.store_profile
    consequence = (
        f"on this {profile.name} store a bucket policy binds the owner too, so once applied "
        "it could not be read or removed over S3 (only with the store's admin tools)"
        if profile.policy_binds_owner
        else "you could lose access to the bucket"
    )
    text = "; ".join(found)
    if forced:
        print(f"safes3: warning: {text} (applied anyway: --allow-self-deny)", file=sys.stderr)
        return
    raise SafeS3Error(
        f"not applied: {text}. The policy would deny the identity applying it, and "
        f"{consequence}. Apply it from an allowed network or identity, or pass "
        "--allow-self-deny if the store sees you at an address the ranges include "
        "(NAT, proxy) or you mean it"
    )


def apply_policy(
    session: Session,
    bucket: str,
    ours: dict[str, Any],
    *,
    replace: bool,
    allow_self_deny: bool,
) -> None:
    """Put ``ours`` (added to the bucket's policy unless ``replace``) and read it back."""
    _refusal(session, bucket, ours, allow_self_deny)
    s3 = session.client()
    kept = 0
    policy = ours
    if not replace:
        policy, kept = pg.merged(_current_policy(s3, bucket), ours)
    print(pg.dumps(policy))
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    try:
        stored = s3.get_bucket_policy(Bucket=bucket)["Policy"]
    except ClientError as exc:
        raise SafeS3Error(
            f"the policy was put on {bucket}, but reading it back failed ({describe(exc)}): if "
            "that is AccessDenied the policy denies you; remove it with the store's admin tools"
        ) from exc
    if not pg.same_policy(stored, policy):
        raise SafeS3Error(f"the policy read back from {bucket} differs from the one put: {stored}")
    how = "replaced its policy" if replace else f"kept {kept} existing statement(s)"
    print(f"applied to {bucket} ({how}) and verified by reading it back", file=sys.stderr)
