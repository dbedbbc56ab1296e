"""S3's operations grouped by what they take and do, written out from S3's documentation.

The offline tests compare these hand-written sets with what botocore's model
says and what safes3's rules derive, so a botocore release that moves an
operation, or a rule that misreads a shape, shows up as a difference.
"""

from __future__ import annotations

__all__ = [
    "ACL_OPERATIONS",
    "COPY_SOURCE_OPERATIONS",
    "CREATING",
    "FINISHING",
    "SSEC_OPERATIONS",
    "WRITES",
]

SSEC_OPERATIONS = frozenset(
    {
        "CompleteMultipartUpload",
        "CopyObject",
        "CreateMultipartUpload",
        "GetObject",
        "GetObjectAttributes",
        "HeadObject",
        "ListParts",
        "PutObject",
        "SelectObjectContent",
        "UploadPart",
        "UploadPartCopy",
    }
)
COPY_SOURCE_OPERATIONS = frozenset({"CopyObject", "UploadPartCopy"})
CREATING = frozenset({"PutObject", "CopyObject", "CreateMultipartUpload"})
FINISHING = frozenset({"PutObject", "CopyObject", "CompleteMultipartUpload"})
WRITES = frozenset({*CREATING, "UploadPart", "UploadPartCopy", "CompleteMultipartUpload"})
ACL_OPERATIONS = frozenset({"PutBucketAcl", "PutObjectAcl"})
