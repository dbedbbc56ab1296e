"""Bucket policies for the common protections, built as data and always valid JSON.

Each builder returns one or more IAM statements; :func:`bucket_policy`
wraps them in a document with ``Version`` 2012-10-17.  The statements are
*Deny* statements: they only take permissions away, so applying one can
never open a bucket.

Two choices need explaining:

* Insecure transport is matched with ``BoolIfExists aws:SecureTransport
  false``.  Plain ``Bool`` only matches when the key is present in the
  request context; some stores (Ceph RGW) never set the key on plain-HTTP
  requests, so a ``Bool`` Deny silently never fires there.  ``IfExists``
  makes an absent key count as a match, which is the safe side.
  SeaweedFS rejects every ``...IfExists`` operator as an invalid document
  but does enforce ``Bool``, so for it ``Bool`` is generated.
* "Require encryption" must not break multipart uploads.  UploadPart and
  CompleteMultipartUpload are authorised as ``s3:PutObject`` but carry no
  ``x-amz-server-side-encryption`` header, so the well-known
  ``Null s3:x-amz-server-side-encryption = true`` Deny rejects every part
  (and so do ``StringNotEquals`` and ``StringNotEqualsIfExists``: a negated
  operator is *true* when the key is absent).  What is generated instead is
  a Deny whose conditions must all hold: the header is present
  (``Null ... false``) *and* names another mode (``StringNotEquals``).
  Parts carry no header and pass; a wrong or unknown mode is refused.  For
  SSE-C, whose parts do carry the customer-algorithm header, a ``Null``
  Deny on that header also refuses writes without SSE-C, on stores that
  evaluate the key.  For SSE-KMS and SSE-S3, a write with *no* header
  cannot be told apart from an UploadPart: pair the policy with bucket
  default encryption where the store has it, and with safes3 clients.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from typing import Any, Literal

from safes3._core._profiles import StoreProfile
from safes3._exceptions import ConfigurationError

__all__ = [
    "EncryptionRequirement",
    "bucket_policy",
    "deny_acl_changes",
    "deny_insecure_transport",
    "dumps",
    "require_encryption",
    "require_mfa",
    "restrict_to_ips",
    "same_policy",
]

Statement = dict[str, Any]
EncryptionRequirement = Literal["sse-kms", "sse-s3", "sse-c", "any"]

_VERSION = "2012-10-17"
_SSE_KEY = "s3:x-amz-server-side-encryption"
_SSE_VALUES: dict[str, list[str]] = {
    "sse-kms": ["aws:kms"],
    "sse-s3": ["AES256"],
    "any": ["aws:kms", "AES256"],
}


def _bucket_arn(bucket: str) -> str:
    if not bucket or "/" in bucket or "*" in bucket:
        raise ConfigurationError(f"not a bucket name: {bucket!r}")
    return f"arn:aws:s3:::{bucket}"


def _objects_arn(bucket: str, prefix: str = "") -> str:
    prefix = prefix.lstrip("/")
    return f"{_bucket_arn(bucket)}/{prefix}*"


def _deny_all(sid: str, bucket: str, condition: dict[str, Any]) -> list[Statement]:
    """One statement denying every action on the bucket and its objects under ``condition``."""
    return [
        {
            "Sid": sid,
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [_bucket_arn(bucket), _objects_arn(bucket)],
            "Condition": condition,
        }
    ]


def deny_insecure_transport(bucket: str, profile: StoreProfile) -> list[Statement]:
    """Deny every request that does not arrive over TLS (``BoolIfExists`` where accepted)."""
    operator = "BoolIfExists" if profile.if_exists_conditions else "Bool"
    return _deny_all("DenyInsecureTransport", bucket, {operator: {"aws:SecureTransport": "false"}})


def restrict_to_ips(bucket: str, cidrs: Sequence[str]) -> list[Statement]:
    """Deny every request whose source address is outside ``cidrs``."""
    if not cidrs:
        raise ConfigurationError("give at least one IP range (CIDR), e.g. 10.0.0.0/8")
    ranges = []
    for cidr in cidrs:
        try:
            ranges.append(str(ipaddress.ip_network(cidr, strict=False)))
        except ValueError as exc:
            raise ConfigurationError(f"not an IP address or CIDR range: {cidr!r}") from exc
    return _deny_all(
        "DenyOutsideAllowedNetworks", bucket, {"NotIpAddress": {"aws:SourceIp": ranges}}
    )


def require_mfa(bucket: str, prefix: str, max_age_seconds: int = 3600) -> list[Statement]:
    """Deny access under ``prefix`` without MFA, or with MFA older than ``max_age_seconds``.

    ``Null aws:MultiFactorAuthAge`` catches requests made without MFA at all
    (the key is then absent, and a numeric comparison alone would not match).
    """
    if max_age_seconds <= 0:
        raise ConfigurationError("the MFA age limit must be a positive number of seconds")
    resource = _objects_arn(bucket, prefix)
    return [
        {
            "Sid": "DenyWithoutMFA",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": resource,
            "Condition": {"Null": {"aws:MultiFactorAuthAge": "true"}},
        },
        {
            "Sid": "DenyStaleMFA",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": resource,
            "Condition": {"NumericGreaterThan": {"aws:MultiFactorAuthAge": str(max_age_seconds)}},
        },
    ]


def deny_acl_changes(bucket: str) -> list[Statement]:
    """Deny PutBucketAcl and PutObjectAcl: access is granted by policy, never by ACL."""
    return [
        {
            "Sid": "DenyACLChanges",
            "Effect": "Deny",
            "Principal": "*",
            "Action": ["s3:PutBucketAcl", "s3:PutObjectAcl", "s3:PutObjectVersionAcl"],
            "Resource": [_bucket_arn(bucket), _objects_arn(bucket)],
        }
    ]


def require_encryption(
    bucket: str, profile: StoreProfile, mode: EncryptionRequirement = "any"
) -> list[Statement]:
    """Deny wrongly encrypted writes (and, for SSE-C, unencrypted ones), multipart-safely."""
    if mode != "sse-c" and mode not in _SSE_VALUES:
        raise ConfigurationError(
            f"unknown encryption requirement {mode!r}; choose sse-kms, sse-s3, sse-c or any"
        )
    resource = _objects_arn(bucket)
    wrong_mode: Statement = {
        "Sid": "DenyOtherServerSideEncryption",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:PutObject",
        "Resource": resource,
        "Condition": {"Null": {_SSE_KEY: "false"}},
    }
    if mode != "sse-c":
        wrong_mode["Condition"]["StringNotEquals"] = {_SSE_KEY: _SSE_VALUES[mode]}
        return [wrong_mode]
    statements = [wrong_mode]
    if profile.ssec_condition_key:
        statements.append(
            {
                "Sid": "DenyWritesWithoutSSEC",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": resource,
                "Condition": {"Null": {f"{_SSE_KEY}-customer-algorithm": "true"}},
            }
        )
    return statements


def bucket_policy(*statement_groups: list[Statement]) -> dict[str, Any]:
    """A policy document holding the statements of every group, Sids made unique."""
    statements: list[Statement] = []
    seen: set[str] = set()
    for group in statement_groups:
        for stmt in group:
            if stmt["Sid"] in seen:
                raise ConfigurationError(f"statement {stmt['Sid']!r} was requested twice")
            seen.add(stmt["Sid"])
            statements.append(stmt)
    if not statements:
        raise ConfigurationError("choose at least one protection for the policy")
    return {"Version": _VERSION, "Statement": statements}


def merged(existing: str | None, ours: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """``ours`` added to the bucket's ``existing`` policy text; and how many statements were kept.

    A bucket policy is one document: putting ours alone would silently drop
    whatever else the bucket's owner granted or denied.  Existing statements
    keep their place; one with the Sid of one of ours (an earlier run) is
    replaced by ours.  ``existing`` None means the bucket has no policy.
    """
    if existing is None:
        return ours, 0
    try:
        document = json.loads(existing)
    except ValueError as exc:
        raise ConfigurationError(
            f"the bucket's current policy is not valid JSON ({exc}); fix it or pass --replace"
        ) from exc
    found = document.get("Statement", []) if isinstance(document, dict) else None
    if isinstance(found, dict):
        found = [found]
    if not isinstance(found, list) or not all(isinstance(s, dict) for s in found):
        raise ConfigurationError(
            "the bucket's current policy has no list of statements; fix it or pass --replace"
        )
    new_sids = {stmt["Sid"] for stmt in ours["Statement"]}
    kept = [stmt for stmt in found if stmt.get("Sid") not in new_sids]
    result = dict(document)
    result["Version"] = document.get("Version", _VERSION)
    result["Statement"] = kept + list(ours["Statement"])
    return result, len(kept)


def dumps(policy: dict[str, Any]) -> str:
    """The policy as indented JSON text (stable key order, for review and diff)."""
    return json.dumps(policy, indent=2)


def same_policy(stored: str, wanted: dict[str, Any]) -> bool:
    """Whether the policy text a store returned means ``wanted``.

    Stores re-serialise the document (whitespace, key order, one-element
    lists turned into strings on AWS); compare the parsed statements after
    normalising those.
    """
    try:
        parsed = json.loads(stored)
    except ValueError:
        return False
    return bool(_normal(parsed) == _normal(wanted))


def _normal(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [_normal(v) for v in value]
        if len(items) == 1:
            return items[0]
        if all(isinstance(i, str) for i in items):
            return sorted(items)
        return items
    return value
