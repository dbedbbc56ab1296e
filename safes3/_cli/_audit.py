"""A read-only security audit of buckets: findings plus an encryption inventory.

Only ``Get*``, ``List*`` and ``Head*`` operations are called
(:class:`safes3._cli._auditbase.ReadOnly` checks every call): on Ceph
RGW even a "delete the encryption configuration" request deletes an empty
bucket, so an audit must not send anything else.  Checks the store cannot
answer (its profile says the call is not implemented) are skipped rather than
reported as failures.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from safes3._boundary import describe
from safes3._cli._auditaccess import acl_findings, bucket_acl, bucket_policy, public_access_block
from safes3._cli._auditbase import (
    EXIT_CODES,
    SEVERITIES,
    BucketReport,
    Finding,
    Progress,
    ReadOnly,
    exit_code,
    setting,
    setting_or,
)
from safes3._cli._auditscan import PAGE_SIZE, SAMPLE, scan_objects
from safes3._core._encryption import SSEC
from safes3._core._profiles import StoreProfile

__all__ = ["EXIT_CODES", "SEVERITIES", "BucketReport", "Finding", "audit_bucket", "exit_code"]


def audit_bucket(
    s3: Any,
    bucket: str,
    profile: StoreProfile,
    *,
    workers: int = 8,
    progress: Progress | None = None,
    ssec: SSEC | None = None,
    page_size: int = PAGE_SIZE,
) -> BucketReport:
    """Audit ``bucket`` through ``s3`` (read calls only) and return the report.

    ``s3`` must add no encryption parameters to reads (a client under a
    non-SSE-C policy): the audit's answers must not depend on how the
    caller writes.  ``ssec`` is the caller's SSE-C key, used only as
    evidence that an object is SSE-C (see :mod:`safes3._cli._objectmode`).
    The listing is streamed (see :mod:`safes3._cli._auditscan` for the bound).
    """
    rd = ReadOnly(s3)
    report = BucketReport(bucket)
    checks: list[Callable[[ReadOnly, str, StoreProfile], list[Finding]]] = [
        bucket_acl,
        bucket_policy,
        public_access_block,
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
                    "medium",
                    bucket,
                    "check could not be run (the setting is unverified)",
                    describe(exc),
                    "give the auditing identity read access to this bucket setting",
                )
            )
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            report.findings.append(
                Finding(
                    check.__name__.lstrip("_"),
                    "high",
                    bucket,
                    "the store's answer could not be understood (the setting is unverified)",
                    f"{type(exc).__name__}: {str(exc)[:200]}",
                    "inspect this bucket setting by hand",
                )
            )
    report.findings.extend(_object_findings(rd, bucket, report, workers, progress, ssec, page_size))
    return report


def _versioning(rd: ReadOnly, bucket: str, profile: StoreProfile) -> list[Finding]:
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


def _lifecycle(rd: ReadOnly, bucket: str, profile: StoreProfile) -> list[Finding]:
    rules = setting(rd, "get_bucket_lifecycle_configuration", bucket)[0].get("Rules", [])
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


def _multipart_uploads(rd: ReadOnly, bucket: str, profile: StoreProfile) -> list[Finding]:
    count, sample_keys = 0, list[str]()
    for page in rd.pages("list_multipart_uploads", Bucket=bucket):
        for upload in page.get("Uploads", []):
            count += 1
            if len(sample_keys) < SAMPLE:
                sample_keys.append(repr(upload["Key"]))
    if not count:
        return []
    sample = ", ".join(sample_keys)
    return [
        Finding(
            "unfinished-multipart",
            "low",
            bucket,
            f"{count} unfinished multipart upload(s)",
            f"keys: {sample}",
            "abort them (aws s3api abort-multipart-upload) and add the lifecycle rule",
        )
    ]


def _default_encryption(rd: ReadOnly, bucket: str, profile: StoreProfile) -> list[Finding]:
    if not profile.default_encryption:
        return []
    unset = Finding(
        "no-default-encryption",
        "medium",
        bucket,
        "bucket has no default encryption",
        "not configured",
        "put-bucket-encryption with SSE-KMS and the key's full ARN",
    )
    answer = setting_or(rd, "get_bucket_encryption", bucket, unset)
    if isinstance(answer, Finding):
        return [answer]
    cfg = answer["ServerSideEncryptionConfiguration"]
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


def _object_findings(
    rd: ReadOnly,
    bucket: str,
    report: BucketReport,
    workers: int,
    progress: Progress | None,
    ssec: SSEC | None,
    page_size: int,
) -> list[Finding]:
    try:
        status = rd("get_bucket_versioning", Bucket=bucket).get("Status")
    except ClientError:
        status = None  # the versioning check reports it could not be run
    versioned = status in ("Enabled", "Suspended")
    scan = scan_objects(
        rd,
        rd.pages,
        bucket,
        acl=lambda acl, key: acl_findings(acl, bucket, key),
        workers=workers,
        ssec=ssec,
        progress=progress,
        page_size=page_size,
        versions=versioned,
    )
    report.inventory = scan.inventory
    found: list[Finding] = list(scan.acl_findings)
    if scan.acl_more:
        found.append(
            Finding(
                "public-acl",
                "critical",
                bucket,
                f"{scan.acl_more} more object ACL(s) grant public access (not listed one by one)",
                f"the first {len(scan.acl_findings)} are reported above",
                "reset every object ACL to private and enable the public access block",
            )
        )
    if scan.unencrypted:
        found.append(
            Finding(
                "unencrypted-objects",
                "high",
                bucket,
                f"{scan.unencrypted} of {scan.total} object{' version' if versioned else ''}(s) "
                "stored without encryption",
                "HeadObject shows no server-side encryption: " + ", ".join(scan.unencrypted_sample),
                f"`safes3 rekey --encrypt s3://{bucket}/` re-writes them encrypted",
            )
        )
    if scan.unclassified:
        found.append(
            Finding(
                "unclassified-objects",
                "high",
                bucket,
                f"the encryption of {scan.unclassified} of {scan.total} object(s) could not "
                "be established",
                ", ".join(scan.unclassified_sample),
                "give the auditing identity s3:GetObject on them (and the SSE-C key with "
                "--encryption sse-c:... if they are SSE-C), then audit again",
            )
        )
    return found
