"""One retry for an S3 request refused because its credentials had just expired.

A part of a long upload can be signed moments before the credentials expire
and reach the server after: AWS answers ``ExpiredToken``, Ceph RGW a bare
403.  Failing the part would abort the whole upload, so the credentials are
renewed and that one request is sent again, once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from botocore.credentials import Credentials, RefreshableCredentials
from botocore.hooks import BaseEventHooks

from safes3._credentials._refresh import RoleCredentials

__all__ = [
    "handlers",
    "install_expiry",
    "looks_expired",
]

_GENERATION = "safes3-credentials-generation"
_RETRIED = "safes3-expiry-retried"
_EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "TokenRefreshRequired"})
_DENIED_CODES = frozenset({"", "AccessDenied"})
_SLACK_SECONDS = 60


def looks_expired(
    code: str, status: int, credentials: Credentials | None, signed_generation: int | None
) -> bool:
    """Whether a refusal is explained by credential turnover rather than by policy.

    A bare 403 counts only when the credentials are (nearly) expired by the
    client's clock, or were renewed after the request was signed: an
    ordinary AccessDenied is never retried.
    """
    if code in _EXPIRED_CODES:
        return True
    if status != 403 or code not in _DENIED_CODES:
        return False
    if not isinstance(credentials, RefreshableCredentials):
        return False
    if (
        isinstance(credentials, RoleCredentials)
        and signed_generation is not None
        and credentials.generation != signed_generation
    ):
        return True
    return bool(credentials.refresh_needed(_SLACK_SECONDS))


def handlers(
    credentials: Callable[[], Credentials | None],
) -> tuple[Callable[..., None], Callable[..., int | None]]:
    """The pair :func:`install_expiry` registers: remember the signing generation, retry once."""

    def on_sign(request: Any, **_: Any) -> None:
        found = credentials()
        if isinstance(found, RoleCredentials):
            request.context[_GENERATION] = found.generation

    def on_needs_retry(
        response: tuple[Any, Mapping[str, Any]] | None,
        request_dict: dict[str, Any],
        **_: Any,
    ) -> int | None:
        if response is None:
            return None
        http_response, parsed = response
        context: dict[str, Any] = request_dict.get("context", {})
        if context.get(_RETRIED) or http_response.status_code < 400:
            return None
        code = str((parsed.get("Error") or {}).get("Code") or "")
        found = credentials()
        signed = context.get(_GENERATION)
        if not looks_expired(code, http_response.status_code, found, signed):
            return None
        context[_RETRIED] = True
        if isinstance(found, RoleCredentials):
            found.renew(signed if signed is not None else found.generation)
        return 0

    return on_sign, on_needs_retry


def install_expiry(events: BaseEventHooks, credentials: Callable[[], Credentials | None]) -> None:
    """One retry after expired credentials, ahead of botocore's own retry handler."""
    on_sign, on_needs_retry = handlers(credentials)
    events.register("before-sign.s3", on_sign, unique_id="safes3-expiry-generation")
    events.register_first(
        "needs-retry.s3",
        on_needs_retry,  # type: ignore[arg-type]
        unique_id="safes3-expiry-retry",
    )
