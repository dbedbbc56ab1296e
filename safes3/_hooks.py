"""The only module that knows botocore's event names.

Handlers are registered on a private session's emitter before any client or
resource exists, so every client made from it (and the clients behind
s3transfer, paginators, waiters, presigned URLs and the resource API) carries
them.  Each handler has a ``unique_id``: installing twice is harmless.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from boto3.s3.transfer import TransferConfig
from botocore.client import BaseClient
from botocore.credentials import Credentials
from botocore.hooks import BaseEventHooks
from botocore.model import OperationModel

from safes3._exceptions import (
    ACLRefusedError,
    EncryptionNotAppliedError,
    InsecureTransportError,
)
from safes3._expiry import handlers as expiry_handlers
from safes3._retry import FALSE_MEANS_NO_RETRY, no_expect_for_engine, no_retry_for_engine
from safes3._rules import OperationRule, Policy, rules_for

__all__ = [
    "Janitor",
    "guard_policy",
    "guard_sts",
    "install",
    "install_expiry",
    "quiet_botocore",
]

_PREFIX = "safes3"
_GUARD_EVENT = "safes3-guard.s3"
_TRANSFER_METHODS = ("upload_file", "upload_fileobj", "download_file", "download_fileobj", "copy")
_STASH = "safes3"
_STASHED = ("Bucket", "Key", "UploadId")


class Janitor(Protocol):
    """Inspects and removes what a write left behind, through a guarded client."""

    def head(self, stash: Mapping[str, Any], parsed: Mapping[str, Any]) -> dict[str, Any]: ...

    def remove(
        self, operation: str, stash: Mapping[str, Any], parsed: Mapping[str, Any]
    ) -> bool: ...


def install(events: BaseEventHooks, policy: Policy, janitor: Janitor) -> None:
    """Register every safes3 handler on ``events`` (a session's emitter)."""
    rules: dict[str, OperationRule] = {}
    lock = threading.Lock()

    def rule_for(model: OperationModel) -> OperationRule:
        rule = rules.get(model.name)
        if rule is None:
            with lock:
                rules.update(rules_for(model.service_model))
            rule = rules[model.name]
        return rule

    def on_params(
        params: dict[str, Any], model: OperationModel, context: dict[str, Any], **_: Any
    ) -> None:
        rule = rule_for(model)
        policy.apply_params(rule, params)
        if rule.is_write:
            context[_STASH] = {k: params[k] for k in _STASHED if k in params}

    def on_request(model: OperationModel, params: dict[str, Any], **_: Any) -> None:
        policy.check_request(rule_for(model), params)

    def on_sign(request: Any, operation_name: str = "", **_: Any) -> None:
        if not str(request.url).startswith("https://"):
            raise InsecureTransportError(
                f"{operation_name or 'a request'} would be signed for a non-HTTPS URL; refused"
            )

    def on_send(request: Any, **_: Any) -> None:
        if not str(request.url).startswith("https://"):
            raise InsecureTransportError(
                f"a request to {request.url.split('?')[0]!r} is not HTTPS; it was not sent"
            )

    def on_response(
        http_response: Any,
        parsed: dict[str, Any],
        model: OperationModel,
        context: dict[str, Any],
        **_: Any,
    ) -> None:
        if http_response.status_code >= 300:
            return
        rule = rule_for(model)
        if not rule.is_write:
            return
        stash: dict[str, Any] = context.get(_STASH, {})
        problem = policy.proof_problem(rule, parsed, lambda: janitor.head(stash, parsed))
        if problem is None:
            return
        cleaned = janitor.remove(rule.name, stash, parsed)
        where = f"s3://{stash.get('Bucket', '?')}/{stash.get('Key', '?')}"
        hint = ""
        if policy.encryption.mode == "SSE-S3" and not policy.profile.sse_s3_honoured:
            hint = (
                f" The '{policy.profile.name}' store profile records that this store does "
                "not apply SSE-S3: use SSEKMS or SSEC with it."
            )
        raise EncryptionNotAppliedError(
            f"{rule.name} on {where} was accepted, but the store did not prove "
            f"{policy.encryption.mode} encryption: {problem}. "
            + (
                "What it wrote has been removed."
                if cleaned
                else "Removing what it wrote FAILED: delete it by hand."
            )
            + hint,
            cleaned_up=cleaned,
        )

    def on_guard_check(**_: Any) -> Policy:
        return policy

    def on_client_class(class_attributes: dict[str, Any], **_: Any) -> None:
        from safes3._dropin import transfer_methods  # imports the engine, which imports this

        class_attributes.update(transfer_methods())

    register = events.register
    register("provide-client-params.s3", on_params, unique_id=f"{_PREFIX}-params")
    register("before-call.s3", on_request, unique_id=f"{_PREFIX}-request")
    register("before-sign.s3", on_sign, unique_id=f"{_PREFIX}-sign")
    register("before-send.s3", on_send, unique_id=f"{_PREFIX}-send")
    register("after-call.s3", on_response, unique_id=f"{_PREFIX}-proof")
    register(_GUARD_EVENT, on_guard_check, unique_id=f"{_PREFIX}-guard")  # type: ignore[arg-type]
    events.register_last("creating-client-class.s3", on_client_class, unique_id=f"{_PREFIX}-class")


def guard_sts(events: BaseEventHooks) -> None:
    """Refuse, at the last moment, any STS request that is not HTTPS."""
    events.register("before-send.sts", _refuse_plain_sts, unique_id=f"{_PREFIX}-sts-https")


def _refuse_plain_sts(request: Any, **_: Any) -> None:
    if not str(request.url).lower().startswith("https://"):
        raise InsecureTransportError(
            "an STS request would leave over plain HTTP and was refused before sending; "
            "set the STS endpoint (sts_endpoint_url, or endpoint_url for sts in the AWS "
            "config) to https://"
        )


def install_expiry(events: BaseEventHooks, credentials: Callable[[], Credentials | None]) -> None:
    """One retry after expired credentials, ahead of botocore's own retry handler."""
    on_sign, on_needs_retry = expiry_handlers(credentials)
    events.register("before-sign.s3", on_sign, unique_id=f"{_PREFIX}-expiry-generation")
    events.register_first(
        "needs-retry.s3",
        on_needs_retry,  # type: ignore[arg-type]
        unique_id=f"{_PREFIX}-expiry-retry",
    )


def quiet_botocore(s3: BaseClient) -> None:
    """Tune ``s3`` for the transfer engine's own calls: no botocore retries, no 100-continue."""
    events = s3.meta.events
    events.register(
        "before-call.s3.UploadPart", no_expect_for_engine, unique_id=f"{_PREFIX}-transfer-expect"
    )
    if FALSE_MEANS_NO_RETRY:
        events.register_first(
            "needs-retry.s3",
            no_retry_for_engine,  # type: ignore[arg-type]
            unique_id=f"{_PREFIX}-transfer-no-retry",
        )


def guard_policy(events: BaseEventHooks) -> Policy | None:
    """The policy a client's emitter enforces, or None if its guards are gone."""
    _, response = events.emit_until_response(_GUARD_EVENT)  # type: ignore[attr-defined]
    return response if isinstance(response, Policy) else None


def _pin_classic(method: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an injected transfer method: classic s3transfer only, ACLs refused early.

    boto3 may otherwise pick the CRT transfer client, which builds its own
    connection without the endpoint, the CA bundle or these hooks.
    """
    signature = inspect.signature(method)

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        extra = bound.arguments.get("ExtraArgs") or {}
        for name in extra:
            if name == "ACL" or name.startswith("Grant"):
                raise ACLRefusedError(
                    f"ExtraArgs holds {name}; safes3 refuses ACL and Grant* parameters. "
                    "Grant access with IAM or bucket policies instead"
                )
        config = bound.arguments.get("Config")
        pinned = TransferConfig() if config is None else _copy_config(config)
        pinned.preferred_transfer_client = "classic"  # type: ignore[assignment]
        bound.arguments["Config"] = pinned
        return method(*bound.args, **bound.kwargs)

    wrapper._safes3_pinned = True  # type: ignore[attr-defined]
    return wrapper


def _copy_config(config: TransferConfig) -> TransferConfig:
    clone = TransferConfig.__new__(TransferConfig)
    clone.__dict__.update(config.__dict__)
    return clone
