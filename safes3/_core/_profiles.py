"""What each kind of S3 store does: one table, read by the client and the tests.

A store's quirks are declared here as data, so the client's behaviour for an
endpoint (addressing style, where the integrity checksum goes, which echoes
prove encryption) and the tests' expectations come from the same row instead
of ``if`` statements scattered through the code.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Literal

from safes3._exceptions import ConfigurationError

__all__ = ["PROFILES", "StoreProfile", "get_profile"]


@dataclass(frozen=True, kw_only=True)
class StoreProfile:
    """Capabilities of one kind of store, as verified against it."""

    name: str
    addressing_style: Literal["auto", "virtual", "path"]
    trailer_checksums: bool
    """Accepts botocore's aws-chunked body with a trailing checksum."""
    checksum_headers_verified: bool
    """Checks ``x-amz-checksum-*`` headers (else only Content-MD5 is checked)."""
    sse_s3_honoured: bool
    """Encrypts SSE-S3 (AES256) writes and echoes the header."""
    default_encryption: bool
    """Implements Put/Get/DeleteBucketEncryption (safely)."""
    public_access_block: bool
    block_public_acls_blocks_puts: bool
    """With ``BlockPublicAcls=true`` every PutObject is refused, even one without ACL headers."""
    sse_c_refused_over_http: bool
    copy_with_sse: bool
    """Server-side CopyObject/UploadPartCopy with SSE headers works."""
    kms_unknown_key_refused: bool
    """Refuses a write naming a KMS key it does not know (instead of creating one)."""
    object_acl_effective: bool
    """An object-level public-read ACL really opens the object to anonymous reads."""
    bool_secure_transport: bool
    """Enforces ``Bool aws:SecureTransport`` (not only ``BoolIfExists``)."""
    if_exists_conditions: bool
    """Accepts ``...IfExists`` condition operators in bucket policies."""
    ssec_condition_key: bool
    """Sets ``s3:x-amz-server-side-encryption-customer-algorithm`` for policy conditions."""
    unsigned_headers_refused: bool
    """Refuses a presigned request carrying ``x-amz-*`` headers it did not sign (else the
    holder of a presigned write can add an ACL to it)."""
    policy_binds_owner: bool
    """A bucket-policy Deny binds the owner's own GetBucketPolicy/DeleteBucketPolicy too:
    a policy that denies the owner cannot be removed over S3."""


_AWS = StoreProfile(
    name="aws",
    addressing_style="auto",
    trailer_checksums=True,
    checksum_headers_verified=True,
    sse_s3_honoured=True,
    default_encryption=True,
    public_access_block=True,
    block_public_acls_blocks_puts=False,
    sse_c_refused_over_http=True,
    copy_with_sse=True,
    kms_unknown_key_refused=True,
    object_acl_effective=True,
    bool_secure_transport=True,
    if_exists_conditions=True,
    ssec_condition_key=True,
    unsigned_headers_refused=True,
    policy_binds_owner=False,
)
"""AWS S3, from its documentation; every other profile says how it differs."""

PROFILES: MappingProxyType[str, StoreProfile] = MappingProxyType(
    {
        p.name: p
        for p in (
            _AWS,
            replace(
                _AWS,
                name="ceph",
                addressing_style="path",
                trailer_checksums=False,
                checksum_headers_verified=False,
                sse_s3_honoured=False,
                default_encryption=False,
                block_public_acls_blocks_puts=True,
                copy_with_sse=False,
                bool_secure_transport=False,
                ssec_condition_key=False,
                unsigned_headers_refused=False,
                policy_binds_owner=True,
            ),
            replace(
                _AWS,
                name="seaweedfs",
                addressing_style="path",
                public_access_block=False,
                sse_c_refused_over_http=False,
                kms_unknown_key_refused=False,
                object_acl_effective=False,
                if_exists_conditions=False,
                policy_binds_owner=True,
            ),
            replace(
                _AWS,
                name="minio",
                addressing_style="path",
                public_access_block=False,
                object_acl_effective=False,
                unsigned_headers_refused=False,
            ),
            replace(
                _AWS,
                name="generic",
                addressing_style="path",
                trailer_checksums=False,
                checksum_headers_verified=False,
                sse_s3_honoured=False,
                default_encryption=False,
                public_access_block=False,
                block_public_acls_blocks_puts=True,
                sse_c_refused_over_http=False,
                copy_with_sse=False,
                kms_unknown_key_refused=False,
                bool_secure_transport=False,
                ssec_condition_key=False,
                unsigned_headers_refused=False,
                policy_binds_owner=True,
            ),
        )
    }
)


def get_profile(name: str | StoreProfile) -> StoreProfile:
    """The profile called ``name`` (``aws``, ``ceph``, ``seaweedfs``, ``minio``, ``generic``)."""
    if isinstance(name, StoreProfile):
        return name
    try:
        return PROFILES[name]
    except KeyError:
        raise ConfigurationError(
            f"unknown store profile {name!r}; choose one of {', '.join(sorted(PROFILES))} "
            "(use 'generic' for an S3-compatible store not listed)"
        ) from None
