"""The guard core's botocore handlers (credentials and the engine register their own).

Handlers are registered on a private session's emitter before any client or
resource exists, so every client made from it (and the clients behind
s3transfer, paginators, waiters, presigned URLs and the resource API) carries
them.  Each handler has a ``unique_id``: installing twice is harmless.  The
handlers give early, friendly refusals and the proof of encryption; the
guarantee on what is sent is the gate (:mod:`safes3._core._gate`), which the
client class gets here too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.client import BaseClient
from botocore.hooks import BaseEventHooks
from botocore.model import OperationModel

from safes3._core._gate import Gate, S3Gate, gate_of, guarded_base
from safes3._core._presign import guard_presign_post, guard_presign_url, guard_signer
from safes3._core._rules import OperationRule, Policy, rules_for
from safes3._exceptions import EncryptionNotAppliedError

__all__ = [
    "GateSettings",
    "Guards",
    "Janitor",
    "guard_policy",
    "install",
    "is_guarded",
]

_PREFIX = "safes3"
_GUARD_EVENT = "safes3-guard.s3"
_STASH = "safes3"
_STASHED = ("Bucket", "Key", "UploadId")


class Janitor(Protocol):
    """Inspects and removes what a write left behind, through a guarded client."""

    def head(self, stash: Mapping[str, Any], parsed: Mapping[str, Any]) -> dict[str, Any]: ...

    def remove(
        self, operation: str, stash: Mapping[str, Any], parsed: Mapping[str, Any]
    ) -> bool: ...


@dataclass(frozen=True)
class GateSettings:
    """What the gate of each client needs beyond the policy."""

    ca_path: str
    aws: bool
    allowed: frozenset[str]
    presign_max_expires: int


@dataclass(frozen=True)
class Guards:
    """The handlers one session registered: ``is_guarded`` checks each is still there."""

    policy: Policy
    handlers: tuple[tuple[str, Callable[..., Any]], ...]


def install(
    events: BaseEventHooks,
    policy: Policy,
    janitor: Janitor,
    settings: GateSettings,
    class_methods: Callable[[], Mapping[str, Any]],
) -> Guards:
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

    guards: list[Guards] = []

    def make_gate(inner: Any, client: Any) -> Gate:
        return S3Gate(
            inner,
            endpoint_url=client.meta.endpoint_url,
            ca_path=settings.ca_path,
            aws=settings.aws,
            policy=policy,
            service_model=client.meta.service_model,
            allowed=settings.allowed,
            guards=guards[0],
        )

    def on_client(client: Any) -> None:
        guard_signer(client, policy, settings.allowed, settings.presign_max_expires)

    base = guarded_base(make_gate, on_client)

    def on_client_class(
        class_attributes: dict[str, Any], base_classes: list[type], **_: Any
    ) -> None:
        if base not in base_classes:
            base_classes.insert(0, base)
        class_attributes.update(class_methods())

    def on_any_client_class(
        class_attributes: dict[str, Any], base_classes: list[type], **_: Any
    ) -> None:
        """botocore adds generate_presigned_url at the generic event, after ``.s3`` ones."""
        if base not in base_classes:
            return
        url = class_attributes.get("generate_presigned_url")
        if url is not None:
            class_attributes["generate_presigned_url"] = guard_presign_url(url)
        post = class_attributes.get("generate_presigned_post")
        if post is not None:
            class_attributes["generate_presigned_post"] = guard_presign_post(post, policy)

    table: tuple[tuple[str, Callable[..., Any], str], ...] = (
        ("provide-client-params.s3", on_params, "params"),
        ("before-call.s3", on_request, "request"),
        ("after-call.s3", on_response, "proof"),
        (_GUARD_EVENT, on_guard_check, "guard"),
    )
    for event, handler, name in table:
        events.register(event, handler, unique_id=f"{_PREFIX}-{name}")
    events.register_last("creating-client-class.s3", on_client_class, unique_id=f"{_PREFIX}-class")
    events.register_last(
        "creating-client-class", on_any_client_class, unique_id=f"{_PREFIX}-presign"
    )
    guards.append(Guards(policy, tuple((event, handler) for event, handler, _ in table)))
    return guards[0]


def is_guarded(client: BaseClient) -> bool:
    """Whether ``client`` has its gate and every handler its session registered."""
    gate = gate_of(client)
    if not isinstance(gate, S3Gate):
        return False
    events = client.meta.events
    for event, handler in gate.guards.handlers:
        if handler not in _registered(events, event):
            return False
    return guard_policy(events) is gate.policy


def _registered(events: Any, event: str) -> list[Any]:
    """The handlers ``events`` would call for ``event`` (botocore's emitter internals)."""
    emitter = getattr(events, "_emitter", events)
    return list(emitter._handlers.prefix_search(event + ".PutObject"))


def guard_policy(events: BaseEventHooks) -> Policy | None:
    """The policy a client's emitter enforces, or None if its guards are gone."""
    _, response = events.emit_until_response(_GUARD_EVENT)  # type: ignore[attr-defined]
    return response if isinstance(response, Policy) else None
