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

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from safes3._core import _inspect as ins
from safes3._core._inspect import Inspector

__all__ = ["ACL_HEADERS", "NEVER", "OPERATIONS", "Kind", "OperationClass", "loosening"]


class Kind(str, Enum):
    READ = "reads data"
    WRITE = "writes data"
    ACCESS = "changes access"
    ENCRYPTION = "changes encryption"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class OperationClass:
    kind: Kind
    inspector: Inspector | None = None


NEVER = frozenset({"PutBucketAcl", "PutObjectAcl"})
"""ACL changes: refused whatever the settings say."""
ACL_HEADERS = ("x-amz-acl", "x-amz-grant-")
"""Prefixes of the (lower-case) headers that set an ACL: refused on every request."""

_R, _W, _O = Kind.READ, Kind.WRITE, Kind.OTHER
_SENDS_OUT = ins.always(
    "it sends copies of data, listings or events to a destination safes3 does not check"
)
_OTHER_NAMES = """
AbortMultipartUpload CreateSession DeleteBucket DeleteBucketAnalyticsConfiguration
DeleteBucketCors DeleteBucketIntelligentTieringConfiguration DeleteBucketInventoryConfiguration
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
PutBucketAccelerateConfiguration PutBucketCors PutBucketIntelligentTieringConfiguration
PutBucketLifecycle PutBucketLifecycleConfiguration PutBucketMetricsConfiguration
PutBucketRequestPayment PutBucketTagging PutBucketWebsite PutObjectAnnotation PutObjectLegalHold
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
    "CreateBucket": OperationClass(_O, ins.bucket_ownership),
    "RestoreObject": OperationClass(_O, ins.restore),
    "PutBucketVersioning": OperationClass(_O, ins.versioning),
    "PutBucketLogging": OperationClass(Kind.ACCESS, _SENDS_OUT),
    **{
        name: OperationClass(Kind.ACCESS, _SENDS_OUT)
        for name in (
            "PutBucketReplication",
            "PutBucketInventoryConfiguration",
            "PutBucketAnalyticsConfiguration",
            "PutBucketNotification",
            "PutBucketNotificationConfiguration",
            "CreateBucketMetadataConfiguration",
            "CreateBucketMetadataTableConfiguration",
        )
    },
    "PutBucketAcl": OperationClass(Kind.ACCESS, ins.always("it replaces the bucket's ACL")),
    "PutObjectAcl": OperationClass(Kind.ACCESS, ins.always("it replaces the object's ACL")),
    "PutBucketPolicy": OperationClass(Kind.ACCESS, ins.public_policy),
    "DeleteBucketPolicy": OperationClass(
        Kind.ACCESS, ins.always("it removes every statement, Deny statements included")
    ),
    "PutPublicAccessBlock": OperationClass(Kind.ACCESS, ins.public_access_block),
    "DeletePublicAccessBlock": OperationClass(
        Kind.ACCESS, ins.always("it turns the bucket's public access block off")
    ),
    "PutBucketOwnershipControls": OperationClass(Kind.ACCESS, ins.ownership_controls),
    "DeleteBucketOwnershipControls": OperationClass(
        Kind.ACCESS, ins.always("without ownership controls the bucket accepts ACLs again")
    ),
    "PutBucketAbac": OperationClass(
        Kind.ACCESS, ins.always("it changes attribute-based access control for the bucket")
    ),
    "PutBucketEncryption": OperationClass(Kind.ENCRYPTION, ins.bucket_encryption),
    "DeleteBucketEncryption": OperationClass(
        Kind.ENCRYPTION, ins.always("it removes the bucket's default encryption")
    ),
    "UpdateObjectEncryption": OperationClass(
        Kind.ENCRYPTION, ins.always("it changes the encryption of stored objects")
    ),
}


def loosening(operation: str, headers: Mapping[str, str], body: bytes) -> str | None:
    """What ``operation``'s request would loosen, or None (unknown names are the gate's job)."""
    found = OPERATIONS.get(operation)
    if found is None or found.inspector is None:
        return None
    return found.inspector(headers, body)
