"""Every S3 operation, classified once: what it does to data, access and encryption.

The table is data: one line per operation of botocore's S3 model.  A botocore
release that adds an operation makes ``tests/unit/test_operations.py`` fail
until the operation is classified here, and until then the gate refuses it
at run time.  Operations that could loosen access or move encryption away
from the policy carry an *inspector*: a pure function over the final request
that says what the request would loosen, so tightening calls (a public access
block turned on, a policy of Deny statements) still go through.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum

__all__ = ["NEVER", "OPERATIONS", "Kind", "OperationClass", "loosening"]


class Kind(str, Enum):
    READ = "reads data"
    WRITE = "writes data"
    ACCESS = "changes access"
    ENCRYPTION = "changes encryption"
    OTHER = "other"


Inspector = Callable[[Mapping[str, str], bytes], "str | None"]


@dataclass(frozen=True, slots=True)
class OperationClass:
    kind: Kind
    inspector: Inspector | None = None


NEVER = frozenset({"PutBucketAcl", "PutObjectAcl"})
"""ACL changes: refused whatever the settings say."""

_GRANT_ELEMENTS = re.compile(
    rb"<\s*(?:\w+:)?(Grant|Grantee|AccessControlList|TargetGrants|CannedACL)\b"
)
_OWNERSHIP = re.compile(rb"<\s*(?:\w+:)?ObjectOwnership\s*>\s*([A-Za-z]+)\s*<")
_BLOCK_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
_ALGORITHM = re.compile(rb"<\s*(?:\w+:)?SSEAlgorithm\s*>\s*([^<\s]+)\s*<")
_ENCRYPTING = frozenset({b"AES256", b"aws:kms", b"aws:kms:dsse"})


def _grants(_headers: Mapping[str, str], body: bytes) -> str | None:
    found = _GRANT_ELEMENTS.search(body)
    return f"its body carries a <{found.group(1).decode()}> element" if found else None


def _bucket_ownership(headers: Mapping[str, str], _body: bytes) -> str | None:
    value = headers.get("x-amz-object-ownership", "BucketOwnerEnforced")
    if value != "BucketOwnerEnforced":
        return f"x-amz-object-ownership: {value} turns ACLs on for the bucket"
    return None


def _ownership_controls(_headers: Mapping[str, str], body: bytes) -> str | None:
    values = {m.decode() for m in _OWNERSHIP.findall(body)}
    loose = sorted(values - {"BucketOwnerEnforced"})
    if loose or not values:
        return f"ObjectOwnership {', '.join(loose) or '(none)'} turns ACLs back on"
    return None


def _public_access_block(_headers: Mapping[str, str], body: bytes) -> str | None:
    off = []
    for flag in _BLOCK_FLAGS:
        match = re.search(rb"<\s*(?:\w+:)?" + flag.encode() + rb"\s*>\s*(\w+)\s*<", body)
        if match is None or match.group(1).lower() != b"true":
            off.append(flag)
    return f"it leaves {', '.join(off)} off" if off else None


def _public_policy(_headers: Mapping[str, str], body: bytes) -> str | None:
    try:
        document = json.loads(body)
        statements = document.get("Statement", [])
    except (ValueError, AttributeError):
        return "its policy document cannot be read as JSON, so it cannot be checked"
    if isinstance(statements, dict):
        statements = [statements]
    for statement in statements if isinstance(statements, list) else [statements]:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        if "NotPrincipal" in statement:
            return "it allows everyone outside a NotPrincipal list"
        if _is_everyone(statement.get("Principal")) and not statement.get("Condition"):
            return "it allows Principal '*' with no Condition (anyone on the internet)"
    return None


def _is_everyone(principal: object) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        values = principal.get("AWS", [])
        values = values if isinstance(values, list) else [values]
        return "*" in values
    return False


def _bucket_encryption(_headers: Mapping[str, str], body: bytes) -> str | None:
    algorithms = set(_ALGORITHM.findall(body))
    if not algorithms or not algorithms <= _ENCRYPTING:
        named = ", ".join(sorted(a.decode() for a in algorithms)) or "none"
        return f"its default encryption algorithm ({named}) is not one that encrypts"
    return None


def _always(what: str) -> Inspector:
    def inspect(_headers: Mapping[str, str], _body: bytes) -> str | None:
        return what

    return inspect


_R, _W, _O = Kind.READ, Kind.WRITE, Kind.OTHER
_OTHER_NAMES = """
AbortMultipartUpload CreateBucketMetadataConfiguration CreateBucketMetadataTableConfiguration
CreateSession DeleteBucket DeleteBucketAnalyticsConfiguration DeleteBucketCors
DeleteBucketIntelligentTieringConfiguration DeleteBucketInventoryConfiguration
DeleteBucketLifecycle DeleteBucketMetadataConfiguration DeleteBucketMetadataTableConfiguration
DeleteBucketMetricsConfiguration DeleteBucketReplication DeleteBucketTagging DeleteBucketWebsite
DeleteObject DeleteObjectAnnotation DeleteObjectTagging DeleteObjects GetBucketAbac
GetBucketAccelerateConfiguration GetBucketAcl GetBucketAnalyticsConfiguration GetBucketCors
GetBucketEncryption GetBucketIntelligentTieringConfiguration GetBucketInventoryConfiguration
GetBucketLifecycle GetBucketLifecycleConfiguration GetBucketLocation GetBucketLogging
GetBucketMetadataConfiguration GetBucketMetadataTableConfiguration GetBucketMetricsConfiguration
GetBucketNotification GetBucketNotificationConfiguration GetBucketOwnershipControls
GetBucketPolicy GetBucketPolicyStatus GetBucketReplication GetBucketRequestPayment
GetBucketTagging GetBucketVersioning GetBucketWebsite GetObjectAcl GetObjectAnnotation
GetObjectLegalHold GetObjectLockConfiguration GetObjectRetention GetObjectTagging
GetPublicAccessBlock HeadBucket ListBucketAnalyticsConfigurations
ListBucketIntelligentTieringConfigurations ListBucketInventoryConfigurations
ListBucketMetricsConfigurations ListBuckets ListDirectoryBuckets ListMultipartUploads
ListObjectAnnotations ListObjectVersions ListObjects ListObjectsV2 ListParts
PutBucketAccelerateConfiguration PutBucketAnalyticsConfiguration PutBucketCors
PutBucketIntelligentTieringConfiguration PutBucketInventoryConfiguration PutBucketLifecycle
PutBucketLifecycleConfiguration PutBucketMetricsConfiguration PutBucketNotification
PutBucketNotificationConfiguration PutBucketReplication PutBucketRequestPayment
PutBucketTagging PutBucketVersioning PutBucketWebsite PutObjectAnnotation PutObjectLegalHold
PutObjectLockConfiguration PutObjectRetention PutObjectTagging RenameObject
UpdateBucketMetadataAnnotationTableConfiguration UpdateBucketMetadataInventoryTableConfiguration
UpdateBucketMetadataJournalTableConfiguration WriteGetObjectResponse
"""

OPERATIONS: Mapping[str, OperationClass] = {
    **{name: OperationClass(_O) for name in _OTHER_NAMES.split()},
    **{
        name: OperationClass(_R)
        for name in (
            "GetObject",
            "HeadObject",
            "GetObjectAttributes",
            "GetObjectTorrent",
            "SelectObjectContent",
        )
    },
    **{
        name: OperationClass(_W)
        for name in (
            "PutObject",
            "CopyObject",
            "CreateMultipartUpload",
            "UploadPart",
            "UploadPartCopy",
            "CompleteMultipartUpload",
        )
    },
    "CreateBucket": OperationClass(_O, _bucket_ownership),
    "RestoreObject": OperationClass(_O, _grants),
    "PutBucketLogging": OperationClass(Kind.ACCESS, _grants),
    "PutBucketAcl": OperationClass(Kind.ACCESS, _always("it replaces the bucket's ACL")),
    "PutObjectAcl": OperationClass(Kind.ACCESS, _always("it replaces the object's ACL")),
    "PutBucketPolicy": OperationClass(Kind.ACCESS, _public_policy),
    "DeleteBucketPolicy": OperationClass(
        Kind.ACCESS, _always("it removes every statement, Deny statements included")
    ),
    "PutPublicAccessBlock": OperationClass(Kind.ACCESS, _public_access_block),
    "DeletePublicAccessBlock": OperationClass(
        Kind.ACCESS, _always("it turns the bucket's public access block off")
    ),
    "PutBucketOwnershipControls": OperationClass(Kind.ACCESS, _ownership_controls),
    "DeleteBucketOwnershipControls": OperationClass(
        Kind.ACCESS, _always("without ownership controls the bucket accepts ACLs again")
    ),
    "PutBucketAbac": OperationClass(
        Kind.ACCESS, _always("it changes attribute-based access control for the bucket")
    ),
    "PutBucketEncryption": OperationClass(Kind.ENCRYPTION, _bucket_encryption),
    "DeleteBucketEncryption": OperationClass(
        Kind.ENCRYPTION, _always("it removes the bucket's default encryption")
    ),
    "UpdateObjectEncryption": OperationClass(
        Kind.ENCRYPTION, _always("it changes the encryption of stored objects")
    ),
}


def loosening(operation: str, headers: Mapping[str, str], body: bytes) -> str | None:
    """What ``operation``'s request would loosen, or None (unknown names are the gate's job)."""
    found = OPERATIONS.get(operation)
    if found is None or found.inspector is None:
        return None
    return found.inspector(headers, body)
