"""Presigned URLs and POST forms are requests too, sent later by someone else.

No event handler sees a presigned request being *used*, so it is checked
when it is signed, at the last step every presigning path goes through: the
client's request signer (``client._request_signer.sign``), whether the call
came from the client's ``generate_presigned_*`` methods or from botocore's
module functions called with the client.  There:

- the method must be the operation's own (``get_object`` signed for ``PUT``
  is refused), and the operation one the gate would let through;
- a URL must carry the policy's encryption headers, so they are signed in
  and a holder cannot leave them out; no ACL header;
- a POST policy must pin the encryption fields with exact conditions and
  hold no ACL field or condition;
- the lifetime is capped.

The client methods themselves are wrapped only to be friendly: the URL
method works on a copy of ``Params`` (botocore's handlers would otherwise
write the SSE-C key into the caller's dict), and the POST method adds the
encryption fields and conditions the signer will insist on.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable, Collection, Mapping
from typing import Any
from urllib.parse import urlsplit

from safes3._core._encryption import SSEC
from safes3._core._gate import refuse_loosening
from safes3._core._operations import ACL_HEADERS, OPERATIONS, Kind
from safes3._core._rules import Policy, rules_for
from safes3._exceptions import (
    ACLRefusedError,
    ConfigurationError,
    EncryptionConflictError,
    EncryptionPolicyError,
    InsecureTransportError,
    OperationRefusedError,
)

__all__ = ["guard_presign_post", "guard_presign_url", "guard_signer"]

_CUSTOMER_KEY_FIELD = "x-amz-server-side-encryption-customer-key"
_LOOSENS = "a presigned request's body cannot be checked when it is used"


def guard_presign_url(original: Callable[..., str]) -> Callable[..., str]:
    """``generate_presigned_url`` on a copy of ``Params``; the signer does the checks."""

    def generate_presigned_url(
        self: Any,
        ClientMethod: str,
        Params: Mapping[str, Any] | None = None,
        ExpiresIn: int = 3600,
        HttpMethod: str | None = None,
    ) -> str:
        params = copy.deepcopy(dict(Params or {}))
        return original(
            self, ClientMethod, Params=params, ExpiresIn=ExpiresIn, HttpMethod=HttpMethod
        )

    generate_presigned_url.__doc__ = original.__doc__
    return generate_presigned_url


def guard_presign_post(
    original: Callable[..., dict[str, Any]], policy: Policy
) -> Callable[..., dict[str, Any]]:
    """``generate_presigned_post`` with the policy's encryption fields and conditions added."""

    def generate_presigned_post(
        self: Any,
        Bucket: str,
        Key: str,
        Fields: Mapping[str, Any] | None = None,
        Conditions: list[Any] | None = None,
        ExpiresIn: int = 3600,
    ) -> dict[str, Any]:
        fields = dict(Fields or {})
        given = {k.lower(): v for k, v in fields.items()}
        extra_fields, extra_conditions = encryption_form(policy)
        for name, value in extra_fields.items():
            if given.get(name, value) != value:
                raise EncryptionConflictError(
                    f"the POST form field {name}={given[name]!r} contradicts this client's "
                    f"{policy.encryption.mode} policy; drop it (safes3 adds the encryption)"
                )
            fields[name] = value
        conditions = [*(Conditions or []), *extra_conditions]
        return original(
            self, Bucket, Key, Fields=fields, Conditions=conditions, ExpiresIn=ExpiresIn
        )

    generate_presigned_post.__doc__ = original.__doc__
    return generate_presigned_post


def encryption_form(policy: Policy) -> tuple[dict[str, str], list[Any]]:
    """Form fields the policy puts on a POST, and the exact conditions that pin them.

    Under SSE-C the form pins the algorithm and the key's MD5 but holds no
    key: the holder adds the key field, which the store checks against the MD5.
    """
    enc = policy.encryption
    if isinstance(enc, SSEC):
        fields = {k: v for k, v in enc.customer_headers.items() if k != _CUSTOMER_KEY_FIELD}
        conditions: list[Any] = [{k: v} for k, v in fields.items()]
        conditions.append(["starts-with", "$" + _CUSTOMER_KEY_FIELD, ""])
        return fields, conditions
    fields = dict(enc.object_headers)
    return fields, [{k: v} for k, v in fields.items()]


def guard_signer(client: Any, policy: Policy, allowed: Collection[str], cap: int) -> None:
    """Check every presigning of ``client`` where it is signed."""
    signer = client._request_signer
    original = signer.sign
    model = client.meta.service_model
    rules = rules_for(model)

    def sign(
        operation_name: str,
        request: Any,
        region_name: str | None = None,
        signing_type: str = "standard",
        expires_in: int | None = None,
        signing_name: str | None = None,
        **extra: Any,
    ) -> Any:
        if signing_type == "presign-url":
            _check_expiry(expires_in, cap)
            _check_url(operation_name, request, model, allowed)
            _check_store(operation_name, policy, post=False)
            _check_headers(operation_name, request, policy, rules[operation_name])
        elif signing_type == "presign-post":
            _check_store(operation_name, policy, post=True)
            _check_post(request, policy, cap)
        return original(
            operation_name, request, region_name, signing_type, expires_in, signing_name, **extra
        )

    signer.sign = sign


def _check_store(name: str, policy: Policy, *, post: bool) -> None:
    """Refuse presigned writes the store's own checks would not hold to the policy.

    No proof of encryption follows a presigned write (the store answers the
    holder), so where the store does not apply the policy's mode, or lets a
    holder add headers nobody signed (an ACL), safes3 does not sign one.
    """
    known = OPERATIONS.get(name)
    writes = post or (known is not None and known.kind is Kind.WRITE)
    if not writes:
        return
    profile = policy.profile
    if policy.encryption.mode == "SSE-S3" and not profile.sse_s3_honoured:
        raise EncryptionPolicyError(
            f"a presigned write under SSE-S3 would be stored in plaintext: the "
            f"'{profile.name}' store profile records that this store does not apply SSE-S3; "
            "use SSEKMS or SSEC"
        )
    if not post and not profile.unsigned_headers_refused:
        raise OperationRefusedError(
            f"cannot presign {name} for the '{profile.name}' store: it accepts headers a "
            "presigned URL did not sign, so its holder could add an ACL. Use a presigned "
            "POST form (its policy conditions are checked) or upload through safes3",
            operation=name,
        )


def _check_expiry(expires: object, cap: int) -> None:
    if not isinstance(expires, int) or isinstance(expires, bool) or expires < 1:
        raise ConfigurationError(f"ExpiresIn must be a positive number of seconds, got {expires!r}")
    if expires > cap:
        raise ConfigurationError(
            f"ExpiresIn={expires} is longer than this client allows ({cap} s); ask for less, "
            "or raise safes3.Config(presign_max_expires=...) (at most 604800, SigV4's limit)"
        )


def _check_url(name: str, request: Any, model: Any, allowed: Collection[str]) -> None:
    known = OPERATIONS.get(name)
    if known is None:
        raise OperationRefusedError(
            f"cannot presign {name}: not an S3 operation safes3 knows", operation=name
        )
    own = str(model.operation_model(name).http.get("method", "GET")).upper()
    if str(request.method).upper() != own:
        raise OperationRefusedError(
            f"{name} is a {own} operation; a URL signed for it cannot be used with "
            f"{str(request.method).upper()} (it would bypass the operation's rules). Presign "
            "the operation you mean instead",
            operation=name,
        )
    if known.inspector is not None:
        refuse_loosening(name, _LOOSENS, known.kind, allowed)
    if urlsplit(str(request.url)).scheme != "https":
        raise InsecureTransportError(f"the presigned URL for {name} is not HTTPS; refused")


def _check_headers(name: str, request: Any, policy: Policy, rule: Any) -> None:
    headers = {k.lower(): str(v) for k, v in request.headers.items()}
    if any(h.startswith(ACL_HEADERS) for h in headers):
        raise ACLRefusedError(f"the presigned URL for {name} would carry an ACL; refused")
    for header, value in policy.required_headers(rule):
        if headers.get(header) != value:
            raise EncryptionPolicyError(
                f"the presigned URL for {name} would not bind {header}: a holder could use it "
                f"without the {policy.encryption.mode} policy; refused"
            )


def _check_post(request: Any, policy: Policy, cap: int) -> None:
    document = request.context.get("s3-presign-post-policy") or {}
    try:
        expiry = dt.datetime.strptime(str(document.get("expiration")), "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        raise ConfigurationError("a presigned POST policy without a readable expiration") from None
    left = expiry.replace(tzinfo=dt.timezone.utc) - dt.datetime.now(dt.timezone.utc)
    _check_expiry(max(1, int(left.total_seconds())), cap)
    fields: Mapping[str, Any] = request.context.get("s3-presign-post-fields") or {}
    conditions = list(document.get("conditions", []))
    for name in fields:
        _refuse_acl_name(name)
    for condition in conditions:
        for name in _condition_fields(condition):
            _refuse_acl_name(name)
    wanted_fields, wanted_conditions = encryption_form(policy)
    lowered = {k.lower(): v for k, v in fields.items()}
    for name, value in wanted_fields.items():
        if lowered.get(name) != value or {name: value} not in conditions:
            raise EncryptionPolicyError(
                f"a presigned POST without the field and exact condition {name}={value!r} "
                f"would let its holder store objects outside the {policy.encryption.mode} "
                "policy; use the client's generate_presigned_post, which adds them"
            )
    for condition in wanted_conditions:
        if condition not in conditions:
            raise EncryptionPolicyError(f"a presigned POST lacks the condition {condition!r}")


def _refuse_acl_name(name: str) -> None:
    low = name.lower().lstrip("$")
    if low == "acl" or low.startswith(ACL_HEADERS):
        raise ACLRefusedError(
            f"presigned POST field or condition {name!r} sets an ACL; safes3 refuses ACLs "
            "(objects stay private to the bucket owner)"
        )


def _condition_fields(condition: Any) -> list[str]:
    if isinstance(condition, Mapping):
        return [str(k) for k in condition]
    if isinstance(condition, list | tuple) and len(condition) >= 2:
        return [str(condition[1])]
    return []
