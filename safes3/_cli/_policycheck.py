"""Would a bucket policy deny the identity applying it?  Checked before ``policy --apply``.

A Deny that matches the caller's own requests can leave a bucket nobody can
manage: on Ceph RGW and SeaweedFS a bucket-policy Deny binds the owner's own
GetBucketPolicy and DeleteBucketPolicy too (``StoreProfile.policy_binds_owner``),
so the policy cannot even be removed over S3.  The check is conservative:
a statement counts as denying the caller when it covers one of the caller's
reads or policy calls and each of its conditions *may* hold for the caller.
What cannot be known here counts as "may": the caller's MFA, any condition
key not modelled below.  The caller's address is the one this machine uses
to reach the store; behind NAT or a proxy the store sees another, which is
why the refusal can be overridden.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urlsplit

__all__ = ["CALLER_ACTIONS", "Caller", "caller_address", "denials"]

CALLER_ACTIONS = (
    "s3:GetBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketPolicy",
    "s3:ListBucket",
    "s3:GetObject",
)
"""What the applying identity must keep: managing the policy, listing, reading."""


@dataclass(frozen=True)
class Caller:
    """What is known of the identity that applies the policy (None: unknown)."""

    address: str | None
    mfa: bool | None = None


def caller_address(endpoint_url: str, timeout: float = 10.0) -> str | None:
    """The local address this machine uses to reach ``endpoint_url``, or None."""
    parts = urlsplit(endpoint_url)
    if not parts.hostname:
        return None
    try:
        with socket.create_connection(
            (parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)), timeout
        ) as sock:
            return str(sock.getsockname()[0])
    except OSError:
        return None


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def _covers(stmt: dict[str, Any], bucket: str) -> list[str]:
    if "NotAction" in stmt or "NotResource" in stmt:
        return list(CALLER_ACTIONS)
    patterns = [p.lower() for p in _listed(stmt.get("Action"))]
    resources = _listed(stmt.get("Resource"))
    arn = f"arn:aws:s3:::{bucket}"
    bucket_level = any(fnmatchcase(arn, r) for r in resources)
    object_level = any(r.startswith(arn + "/") or fnmatchcase(arn + "/x", r) for r in resources)
    covered = []
    for action in CALLER_ACTIONS:
        on_objects = action == "s3:GetObject"
        if not (object_level if on_objects else bucket_level):
            continue
        if any(fnmatchcase(action.lower(), p) for p in patterns):
            covered.append(action)
    return covered


def _in_ranges(address: str, ranges: Sequence[str]) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip in ipaddress.ip_network(r, strict=False) for r in ranges)


def _may_hold(operator: str, key: str, values: list[str], caller: Caller) -> str | None:
    """Why the condition may hold for the caller, or None when it cannot."""
    name = key.lower()
    if name == "aws:sourceip" and operator in ("IpAddress", "NotIpAddress"):
        if caller.address is None:
            return "the address the store sees this machine at could not be found"
        inside = _in_ranges(caller.address, values)
        if inside == (operator == "IpAddress"):
            where = "inside" if inside else "outside"
            return f"this machine reaches the store from {caller.address}, {where} {values}"
        return None
    if name == "aws:securetransport" and operator in ("Bool", "BoolIfExists"):
        return None if [v.lower() for v in values] == ["false"] else "it matches TLS requests"
    if name == "aws:multifactorauthage":
        if caller.mfa is False and operator.startswith("Numeric"):
            return None
        return (
            "safes3 cannot tell whether these credentials carry MFA, and a store that never "
            "sets aws:MultiFactorAuthAge matches every request"
        )
    return f"the condition {operator} {key} cannot be evaluated here"


def _reasons(conditions: Any, caller: Caller) -> list[str] | None:
    """Why every condition may hold for the caller; None when one cannot."""
    if not isinstance(conditions, dict):
        return ["its Condition block cannot be read"]
    reasons = []
    for operator, pairs in conditions.items():
        if not isinstance(pairs, dict):
            reasons.append(f"the condition {operator} cannot be read")
            continue
        for key, values in pairs.items():
            why = _may_hold(str(operator), str(key), _listed(values), caller)
            if why is None:
                return None
            reasons.append(why)
    return reasons


def denials(statements: Sequence[dict[str, Any]], bucket: str, caller: Caller) -> list[str]:
    """One sentence per Deny statement that may deny the caller's own access to ``bucket``."""
    found = []
    for stmt in statements:
        if stmt.get("Effect") != "Deny":
            continue
        covered = _covers(stmt, bucket)
        reasons = _reasons(stmt.get("Condition") or {}, caller) if covered else None
        if reasons is None:
            continue
        found.append(
            f"{stmt.get('Sid', 'a statement')} would deny you {', '.join(covered)}"
            + (f": {'; '.join(reasons)}" if reasons else " unconditionally")
        )
    return found
