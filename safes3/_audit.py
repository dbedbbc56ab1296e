"""A read-only security audit of buckets: findings plus an encryption inventory.

Only ``Get*``, ``List*`` and ``Head*`` operations are called (:data:`READ_ONLY`
is asserted on every call): on Ceph RGW even a "delete the encryption
configuration" request deletes an empty bucket, so an audit must not send
anything else.  Checks the store cannot answer (its profile says the call is
not implemented) are skipped rather than reported as failures.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from botocore.exceptions import ClientError

from safes3._exceptions import SafeS3Error
from safes3._profiles import StoreProfile

__all__ = ["EXIT_CODES", "SEVERITIES", "BucketReport", "Finding", "audit_bucket", "exit_code"]

Severity = Literal["info", "low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = ("info", "low", "medium", "high", "critical")
EXIT_CODES: dict[Severity, int] = {"info": 0, "low": 3, "medium": 4, "high": 5, "critical": 6}
"""Exit code of ``safes3 audit`` by worst finding (0 also when there is none)."""

_PUBLIC_GROUPS = {
    "http://acs.amazonaws.com/groups/global/AllUsers": "AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers": "AuthenticatedUsers",
}
_SAMPLE = 5
Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class Finding:
    """One problem: what, where, how bad, the evidence seen, and the fix."""

    check: str
    severity: Severity
    bucket: str
    title: str
    evidence: str
    fix: str
    key: str | None = None


@dataclass
class BucketReport:
    """Findings and the object inventory (count and bytes per encryption mode)."""

    bucket: str
    findings: list[Finding] = field(default_factory=list)
    inventory: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, mode: str, size: int) -> None:
        row = self.inventory.setdefault(mode, {"objects": 0, "bytes": 0})
        row["objects"] += 1
        row["bytes"] += size

    def as_dict(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "findings": [asdict(f) for f in self.findings],
            "inventory": self.inventory,
        }


def exit_code(reports: Iterable[BucketReport]) -> int:
    """The exit code for the worst finding across ``reports``."""
    worst = 0
    for report in reports:
        for finding in report.findings:
            worst = max(worst, EXIT_CODES[finding.severity])
    return worst


class _ReadOnly:
    """The audit's view of a client: refuses any operation that is not a read."""

    def __init__(self, s3: Any) -> None:
        self._s3 = s3

    def __call__(self, method: str, **params: Any) -> dict[str, Any]:
        if not method.startswith(("get_", "list_", "head_")):
            raise SafeS3Error(f"the audit may only read; {method} was not called")
        result: dict[str, Any] = getattr(self._s3, method)(**params)
        return result

    def pages(self, method: str, **params: Any) -> Iterator[dict[str, Any]]:
        if not method.startswith("list_"):
            raise SafeS3Error(f"the audit may only read; {method} was not called")
        yield from self._s3.get_paginator(method).paginate(**params)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code") or "")


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def audit_bucket(
    s3: Any,
    bucket: str,
    profile: StoreProfile,
    *,
    workers: int = 8,
    progress: Progress | None = None,
) -> BucketReport:
    """Audit ``bucket`` through ``s3`` (read calls only) and return the report."""
    rd = _ReadOnly(s3)
    report = BucketReport(bucket)
    checks: list[Callable[[_ReadOnly, str, StoreProfile], list[Finding]]] = [
        _bucket_acl,
        _bucket_policy,
        _public_access_block,
        _versioning,
        _lifecycle,
        _multipart_uploads,
        _default_encryption,
    ]
    for check in checks:
        try:
            report.findings.extend(check(rd, bucket, profile))
        except ClientError as exc:
            report.findings.append(
                Finding(
                    check.__name__.lstrip("_"),
                    "info",
                    bucket,
                    "check could not be run",
                    f"{_code(exc) or 'error'} (HTTP {_status(exc)})",
                    "give the auditing identity read access to this bucket setting",
                )
            )
    report.findings.extend(_scan_objects(rd, bucket, report, workers, progress))
    return report


def _bucket_acl(rd: _ReadOnly, bucket: str, profile: StoreProfile) -> list[Finding]:
    return _acl_findings(rd("get_bucket_acl", Bucket=bucket), bucket, None)


def _acl_findings(acl: dict[str, Any], bucket: str, key: str | None) -> list[Finding]:
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


def _bucket_policy(rd: _ReadOnly, bucket: str, profile: StoreProfile) -> list[Finding]:
    try:
        text = rd("get_bucket_policy", Bucket=bucket)["Policy"]
    except ClientError as exc:
        if _code(exc) != "NoSuchBucketPolicy" and _status(exc) != 404:
            raise
        text = '{"Statement": []}'
    statements = json.loads(text).get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    found: list[Finding] = []
    tls_ops: set[str] = set()
    for stmt in statements:
        cond = stmt.get("Condition") or {}
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
                if any(str(k).lower() == "aws:securetransport" for k in keys):
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


def _is_everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        value = principal.get("AWS")
        return value == "*" or (isinstance(value, list) and "*" in value)
    return False


def _public_access_block(rd: _ReadOnly, bucket: str, profile: StoreProfile) -> list[Finding]:
    if not profile.public_access_block:
        return []
    fix = (
        "turn on all four settings (BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, "
        "RestrictPublicBuckets) with put-public-access-block"
    )
    try:
        cfg = rd("get_public_access_block", Bucket=bucket)["PublicAccessBlockConfiguration"]
    except ClientError as exc:
        if _status(exc) != 404:
            raise
        return [
            Finding(
                "public-access-block",
                "high",
                bucket,
                "public access block is off",
                _code(exc) or "no configuration",
                fix,
            )
        ]
    off = sorted(k for k, v in cfg.items() if not v)
    if not off:
        return []
    return [
        Finding(
            "public-access-block",
            "medium",
            bucket,
            "public access block is partial",
            "off: " + ", ".join(off),
            fix,
        )
    ]


def _versioning(rd: _ReadOnly, bucket: str, profile: StoreProfile) -> list[Finding]:
    status = rd("get_bucket_versioning", Bucket=bucket).get("Status")
    if status == "Enabled":
        return []
    return [
        Finding(
            "versioning-off",
            "low",
            bucket,
            "versioning is not enabled",
            f"Status: {status or 'never enabled'}",
            "enable versioning so overwritten or deleted objects can be recovered",
        )
    ]


def _lifecycle(rd: _ReadOnly, bucket: str, profile: StoreProfile) -> list[Finding]:
    try:
        rules = rd("get_bucket_lifecycle_configuration", Bucket=bucket).get("Rules", [])
    except ClientError as exc:
        if _status(exc) != 404:
            raise
        rules = []
    if any(r.get("Status") == "Enabled" and r.get("AbortIncompleteMultipartUpload") for r in rules):
        return []
    return [
        Finding(
            "no-abort-multipart-rule",
            "low",
            bucket,
            "no lifecycle rule aborts incomplete multipart uploads",
            f"{len(rules)} lifecycle rule(s), none with AbortIncompleteMultipartUpload",
            "add a lifecycle rule with AbortIncompleteMultipartUpload "
            "DaysAfterInitiation 7 (unfinished uploads are stored and billed)",
        )
    ]


def _multipart_uploads(rd: _ReadOnly, bucket: str, profile: StoreProfile) -> list[Finding]:
    uploads = [
        u
        for page in rd.pages("list_multipart_uploads", Bucket=bucket)
        for u in page.get("Uploads", [])
    ]
    if not uploads:
        return []
    sample = ", ".join(repr(u["Key"]) for u in uploads[:_SAMPLE])
    return [
        Finding(
            "unfinished-multipart",
            "low",
            bucket,
            f"{len(uploads)} unfinished multipart upload(s)",
            f"keys: {sample}",
            "abort them (aws s3api abort-multipart-upload) and add the lifecycle rule",
        )
    ]


def _default_encryption(rd: _ReadOnly, bucket: str, profile: StoreProfile) -> list[Finding]:
    if not profile.default_encryption:
        return []
    try:
        cfg = rd("get_bucket_encryption", Bucket=bucket)["ServerSideEncryptionConfiguration"]
    except ClientError as exc:
        if _status(exc) != 404:
            raise
        return [
            Finding(
                "no-default-encryption",
                "medium",
                bucket,
                "bucket has no default encryption",
                _code(exc) or "not configured",
                "put-bucket-encryption with SSE-KMS and the key's full ARN",
            )
        ]
    found = []
    for rule in cfg.get("Rules", []):
        key = rule.get("ApplyServerSideEncryptionByDefault", {}).get("KMSMasterKeyID") or ""
        if key.startswith("alias/") or ":alias/" in key:
            found.append(
                Finding(
                    "kms-alias",
                    "medium",
                    bucket,
                    "default encryption names a KMS alias, not a key ARN",
                    f"KMSMasterKeyID {key}",
                    "use the key's full ARN: an alias resolves in the caller's "
                    "account and can be re-pointed to another key",
                )
            )
    return found


def _classify(rd: _ReadOnly, bucket: str, key: str) -> tuple[str, list[Finding]]:
    try:
        head = rd("head_object", Bucket=bucket, Key=key)
    except ClientError as exc:
        if _status(exc) == 400:
            mode = "SSE-C"
        else:
            raise
    else:
        sse = head.get("ServerSideEncryption")
        mode = (
            "SSE-C"
            if head.get("SSECustomerAlgorithm")
            else {"aws:kms": "SSE-KMS", "aws:kms:dsse": "SSE-KMS", "AES256": "SSE-S3"}.get(
                sse or "", "none"
            )
        )
    return mode, _acl_findings(rd("get_object_acl", Bucket=bucket, Key=key), bucket, key)


def _scan_objects(
    rd: _ReadOnly, bucket: str, report: BucketReport, workers: int, progress: Progress | None
) -> list[Finding]:
    objects = [
        (o["Key"], int(o.get("Size", 0)))
        for page in rd.pages("list_objects_v2", Bucket=bucket)
        for o in page.get("Contents", [])
    ]
    total = len(objects)
    unencrypted: list[str] = []
    found: list[Finding] = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = pool.map(lambda obj: _classify(rd, bucket, obj[0]), objects)
        for done, ((key, size), (mode, acl)) in enumerate(zip(objects, results, strict=True), 1):
            report.count(mode, size)
            found.extend(acl)
            if mode == "none":
                unencrypted.append(key)
            if progress is not None:
                progress(done, total)
    if unencrypted:
        sample = ", ".join(repr(k) for k in unencrypted[:_SAMPLE])
        found.append(
            Finding(
                "unencrypted-objects",
                "high",
                bucket,
                f"{len(unencrypted)} of {total} object(s) stored without encryption",
                f"HeadObject shows no server-side encryption: {sample}",
                f"`safes3 rekey --encrypt s3://{bucket}/` re-writes them encrypted",
            )
        )
    return found
