"""Presigned URLs and POST forms are requests too, sent later by someone else.

No event handler sees a presigned request being *used*, so the checks
happen when it is signed: the method the holder will use must be the
operation's own (``get_object`` signed for ``PUT`` is refused), the
operation must be one the gate would let through, the policy's encryption
headers must be among the signed headers (a holder cannot leave them out),
and the lifetime is capped.  A POST form gets the encryption fields and exact
policy conditions added, and any ACL field or condition is refused.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from safes3._encryption import SSEC
from safes3._exceptions import (
    ACLRefusedError,
    ConfigurationError,
    EncryptionConflictError,
    OperationRefusedError,
)
from safes3._gate import refuse_loosening
from safes3._operations import OPERATIONS
from safes3._rules import Policy, rules_for

__all__ = ["guard_presign_post", "guard_presign_url"]

_CUSTOMER_KEY_FIELD = "x-amz-server-side-encryption-customer-key"
_LOOSENS = "a presigned request's body cannot be checked when it is used"


def _check_expiry(expires: object, cap: int) -> int:
    if not isinstance(expires, int) or isinstance(expires, bool) or expires < 1:
        raise ConfigurationError(f"ExpiresIn must be a positive number of seconds, got {expires!r}")
    if expires > cap:
        raise ConfigurationError(
            f"ExpiresIn={expires} is longer than this client allows ({cap} s); ask for less, "
            "or raise safes3.Config(presign_max_expires=...) (at most 604800, SigV4's limit)"
        )
    return expires


def guard_presign_url(
    original: Callable[..., str], policy: Policy, allowed: Collection[str], cap: int
) -> Callable[..., str]:
    """``generate_presigned_url`` with the checks a sent request would get."""

    def generate_presigned_url(
        self: Any,
        ClientMethod: str,
        Params: Mapping[str, Any] | None = None,
        ExpiresIn: int = 3600,
        HttpMethod: str | None = None,
    ) -> str:
        name = self.meta.method_to_api_mapping.get(ClientMethod)
        if name is None or name not in OPERATIONS:
            raise OperationRefusedError(
                f"cannot presign {ClientMethod!r}: not an S3 operation safes3 knows",
                operation=name,
            )
        model = self.meta.service_model.operation_model(name)
        own = str(model.http.get("method", "GET")).upper()
        if HttpMethod is not None and HttpMethod.upper() != own:
            raise OperationRefusedError(
                f"{name} is a {own} operation; a URL signed for it cannot be used with "
                f"{HttpMethod.upper()} (it would bypass the operation's rules). Presign the "
                "operation you mean instead",
                operation=name,
            )
        known = OPERATIONS[name]
        if known.inspector is not None:
            refuse_loosening(name, _LOOSENS, known.kind, allowed)
        expires = _check_expiry(ExpiresIn, cap)
        params = copy.deepcopy(dict(Params or {}))
        url = original(self, ClientMethod, Params=params, ExpiresIn=expires, HttpMethod=HttpMethod)
        _check_signed(url, name, policy, self.meta.service_model)
        return url

    generate_presigned_url.__doc__ = original.__doc__
    return generate_presigned_url


def _check_signed(url: str, name: str, policy: Policy, service_model: Any) -> None:
    parts = urlsplit(url)
    query = {k.lower(): v for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    if parts.scheme != "https":
        raise ConfigurationError(f"the presigned URL for {name} is not HTTPS; refused")
    if any(k.startswith(("x-amz-acl", "x-amz-grant-")) for k in query):
        raise ACLRefusedError(f"the presigned URL for {name} carries an ACL; refused")
    signed = set((query.get("x-amz-signedheaders") or [""])[0].split(";"))
    rule = rules_for(service_model)[name]
    missing = [h for h, _ in policy.required_headers(rule) if h not in signed]
    if missing:
        raise ConfigurationError(
            f"the presigned URL for {name} would not bind {', '.join(missing)}: a holder "
            "could use it without the policy's encryption; refused (is the client signing "
            "with SigV4?)"
        )


def guard_presign_post(
    original: Callable[..., dict[str, Any]], policy: Policy, cap: int
) -> Callable[..., dict[str, Any]]:
    """``generate_presigned_post`` with encryption fields and conditions, and no ACL."""

    def generate_presigned_post(
        self: Any,
        Bucket: str,
        Key: str,
        Fields: Mapping[str, Any] | None = None,
        Conditions: list[Any] | None = None,
        ExpiresIn: int = 3600,
    ) -> dict[str, Any]:
        fields = dict(Fields or {})
        conditions = list(Conditions or [])
        for name in fields:
            _refuse_acl_name(name)
        for condition in conditions:
            for name in _condition_fields(condition):
                _refuse_acl_name(name)
        extra_fields, extra_conditions = _encryption_form(policy)
        for name, value in extra_fields.items():
            given = {k.lower(): v for k, v in fields.items()}.get(name)
            if given is not None and given != value:
                raise EncryptionConflictError(
                    f"the POST form field {name}={given!r} contradicts this client's "
                    f"{policy.encryption.mode} policy; drop it (safes3 adds the encryption)"
                )
            fields[name] = value
        return original(
            self,
            Bucket,
            Key,
            Fields=fields,
            Conditions=conditions + extra_conditions,
            ExpiresIn=_check_expiry(ExpiresIn, cap),
        )

    generate_presigned_post.__doc__ = original.__doc__
    return generate_presigned_post


def _refuse_acl_name(name: str) -> None:
    low = name.lower().lstrip("$")
    if low == "acl" or low.startswith(("x-amz-acl", "x-amz-grant-")):
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


def _encryption_form(policy: Policy) -> tuple[dict[str, str], list[Any]]:
    """Form fields the policy puts on a POST, and conditions that pin them."""
    enc = policy.encryption
    if isinstance(enc, SSEC):
        fields = {k: v for k, v in enc.customer_headers.items() if not k.endswith("customer-key")}
        conditions: list[Any] = [{k: v} for k, v in fields.items()]
        conditions.append(["starts-with", "$" + _CUSTOMER_KEY_FIELD, ""])
        return fields, conditions
    fields = dict(enc.object_headers)
    return fields, [{k: v} for k, v in fields.items()]
