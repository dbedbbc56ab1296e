"""The audit's access checks: ACLs, the bucket policy, and the public access block.

The public access block advice is store-aware: on Ceph RGW (16.2)
``BlockPublicAcls=true`` makes every PutObject fail with AccessDenied, even
one without ACL headers, so the audit never proposes it there and reports
it when it is on (``StoreProfile.block_public_acls_blocks_puts``).
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from safes3._cli._auditbase import Finding, ReadOnly, Severity, code_of, setting_or, status_of
from safes3._core._profiles import StoreProfile

__all__ = [
    "acl_findings",
    "bucket_acl",
    "bucket_policy",
    "proposed_public_access_block",
    "public_access_block",
]

_PUBLIC_GROUPS = {
    "http://acs.amazonaws.com/groups/global/AllUsers": "AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers": "AuthenticatedUsers",
}


def bucket_acl(rd: ReadOnly, bucket: str, profile: StoreProfile) -> list[Finding]:
    return acl_findings(rd("get_bucket_acl", Bucket=bucket), bucket, None)


def acl_findings(acl: dict[str, Any], bucket: str, key: str | None) -> list[Finding]:
    found = []
    for grant in acl.get("Grants", []):
        group = _PUBLIC_GROUPS.get(grant.get("Grantee", {}).get("URI", ""))
        if group is None:
            continue
        perm = grant.get("Permission", "?")
        what = f"object {key!r}" if key else "the bucket"
        severity: Severity = "critical" if group == "AllUsers" else "high"
        found.append(
            Finding(
                "public-acl",
                severity,
                bucket,
                f"ACL on {what} grants {perm} to {group}",
                f"Grantee URI ...groups/global/{group}, Permission {perm}",
                "reset the ACL to private (e.g. aws s3api put-"
                + ("object-acl --key KEY" if key else "bucket-acl")
                + " --acl private), enable the public access block, and grant access with "
                "bucket policies (`safes3 policy --deny-acl-changes`)",
                key,
            )
        )
    return found


def bucket_policy(rd: ReadOnly, bucket: str, profile: StoreProfile) -> list[Finding]:
    try:
        text = rd("get_bucket_policy", Bucket=bucket)["Policy"]
    except ClientError as exc:
        if code_of(exc) != "NoSuchBucketPolicy" and status_of(exc) != 404:
            raise
        text = '{"Statement": []}'
    statements = _statements(text)
    if statements is None:
        return [
            Finding(
                "policy-unreadable",
                "high",
                bucket,
                "the bucket policy is not a readable policy document; what it allows is unknown",
                f"GetBucketPolicy returned: {str(text)[:200]!r}",
                "read the policy with get-bucket-policy and replace it with a valid document "
                "(`safes3 policy ... --apply --replace`)",
            )
        ]
    found: list[Finding] = []
    tls_ops: set[str] = set()
    for stmt in statements:
        cond = stmt.get("Condition") or {}
        if not isinstance(cond, dict):
            cond = {}
        if stmt.get("Effect") == "Allow" and _is_everyone(stmt.get("Principal")) and not cond:
            found.append(
                Finding(
                    "policy-public",
                    "critical",
                    bucket,
                    "bucket policy allows anyone (Principal *) without a condition",
                    json.dumps(stmt, sort_keys=True),
                    "name the principals (account or role ARNs) or add a restricting "
                    "condition (aws:SourceIp, aws:SourceVpce, aws:PrincipalOrgID)",
                )
            )
        if stmt.get("Effect") == "Deny":
            for op, keys in cond.items():
                if isinstance(keys, dict) and any(
                    str(k).lower() == "aws:securetransport" for k in keys
                ):
                    tls_ops.add(op)
    fix = "add `safes3 policy --deny-insecure-transport` to the bucket policy"
    if not tls_ops:
        found.append(
            Finding(
                "no-tls-deny",
                "medium",
                bucket,
                "no policy statement denies requests over plain HTTP",
                "no Deny statement with an aws:SecureTransport condition",
                fix,
            )
        )
    elif tls_ops == {"Bool"} and not profile.bool_secure_transport:
        found.append(
            Finding(
                "tls-deny-not-enforced",
                "medium",
                bucket,
                f"the insecure-transport Deny uses Bool, which the {profile.name} store "
                "does not enforce",
                "Deny condition operator Bool on aws:SecureTransport",
                "use BoolIfExists (" + fix + ")",
            )
        )
    return found


def _statements(text: Any) -> list[dict[str, Any]] | None:
    """The policy's statements, or None when the text is not a policy document."""
    try:
        document = json.loads(text)
    except (TypeError, ValueError):
        return None
    statements = document.get("Statement", []) if isinstance(document, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not all(isinstance(s, dict) for s in statements):
        return None
    return statements


def _is_everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        value = principal.get("AWS")
        return value == "*" or (isinstance(value, list) and "*" in value)
    return False


_PAB_SETTINGS = (
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
)


def proposed_public_access_block(profile: StoreProfile) -> dict[str, bool]:
    """The public access block the audit proposes for ``profile``'s store.

    All four settings, except ``BlockPublicAcls`` where the store then
    refuses every PutObject: there ACL changes are denied by bucket policy
    (``safes3 policy --deny-acl-changes``) and IgnorePublicAcls makes any
    public ACL ineffective.
    """
    return {
        name: not (name == "BlockPublicAcls" and profile.block_public_acls_blocks_puts)
        for name in _PAB_SETTINGS
    }


def _pab_fix(profile: StoreProfile) -> str:
    wanted = proposed_public_access_block(profile)
    on = [name for name, value in wanted.items() if value]
    text = f"turn on {', '.join(on)} with put-public-access-block"
    if not wanted["BlockPublicAcls"]:
        text += (
            f"; leave BlockPublicAcls off: on this {profile.name} store it makes every "
            "PutObject fail with AccessDenied. Deny ACL changes with "
            "`safes3 policy --deny-acl-changes` instead"
        )
    return text


def public_access_block(rd: ReadOnly, bucket: str, profile: StoreProfile) -> list[Finding]:
    if not profile.public_access_block:
        return []
    fix = _pab_fix(profile)
    title = "public access block is off"
    unset = Finding("public-access-block", "high", bucket, title, "no configuration", fix)
    answer = setting_or(rd, "get_public_access_block", bucket, unset)
    if isinstance(answer, Finding):
        return [answer]
    cfg = answer["PublicAccessBlockConfiguration"]
    wanted = proposed_public_access_block(profile)
    found = []
    off = sorted(k for k, v in wanted.items() if v and not cfg.get(k))
    if off:
        found.append(
            Finding(
                "public-access-block",
                "medium",
                bucket,
                "public access block is partial",
                "off: " + ", ".join(off),
                fix,
            )
        )
    if cfg.get("BlockPublicAcls") and not wanted["BlockPublicAcls"]:
        found.append(
            Finding(
                "public-access-block-breaks-writes",
                "medium",
                bucket,
                f"BlockPublicAcls is on: this {profile.name} store then refuses every PutObject",
                "BlockPublicAcls: true",
                fix,
            )
        )
    return found
