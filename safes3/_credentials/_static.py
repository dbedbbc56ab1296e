"""Where the credentials for S3 come from, and the rule against long-term keys.

Application code should run on temporary credentials from an assumed role;
long-term access keys are accepted only when the caller says so explicitly.
"""

from __future__ import annotations

import hmac
from typing import NoReturn

from botocore.credentials import Credentials

from safes3._exceptions import ConfigurationError, StaticCredentialsRefusedError
from safes3._redact import register_secret
from safes3._secret import NoCopy

__all__ = ["StaticCredentials", "check_temporary"]


class StaticCredentials(NoCopy):
    """Explicit keys.  The secret and the token never appear in ``repr``.

    A blank ``session_token`` is no token: such keys count as long-term.
    The object refuses pickling and copying, so the secret cannot travel in
    a pickle or a ``dataclasses.asdict`` by accident.
    """

    __slots__ = ("_secret", "_token", "access_key_id")
    access_key_id: str
    _secret: str
    _token: str | None

    def __init__(
        self, *, access_key_id: str, secret_access_key: str, session_token: str | None = None
    ) -> None:
        if not isinstance(access_key_id, str) or not access_key_id.strip():
            raise ConfigurationError("StaticCredentials needs a non-empty access_key_id")
        if not isinstance(secret_access_key, str) or not secret_access_key.strip():
            raise ConfigurationError("StaticCredentials needs a non-empty secret_access_key")
        token = session_token if session_token is not None and session_token.strip() else None
        object.__setattr__(self, "access_key_id", access_key_id)
        object.__setattr__(self, "_secret", secret_access_key)
        object.__setattr__(self, "_token", token)
        register_secret(secret_access_key)
        register_secret(token)

    @property
    def secret_access_key(self) -> str:
        return self._secret

    @property
    def session_token(self) -> str | None:
        return self._token

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("StaticCredentials is immutable")

    def __repr__(self) -> str:
        token = ", session_token=***" if self._token else ""
        return f"StaticCredentials(access_key_id={self.access_key_id!r}{token})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, StaticCredentials)
            and other.access_key_id == self.access_key_id
            and hmac.compare_digest(other._secret, self._secret)
            and other._token == self._token
        )

    def __hash__(self) -> int:
        return hash((StaticCredentials, self.access_key_id))


def check_temporary(credentials: Credentials | None, *, allow_static: bool) -> None:
    """Refuse long-term keys (no session token) unless ``allow_static``."""
    if credentials is None:
        raise StaticCredentialsRefusedError(
            "no AWS credentials were found; configure a role to assume "
            "(credentials=safes3.AssumeRole(role_arn=...)) or an AWS profile with role_arn"
        )
    frozen = credentials.get_frozen_credentials()
    register_secret(frozen.secret_key)
    register_secret(frozen.token)
    if not (frozen.token or "").strip() and not allow_static:
        raise StaticCredentialsRefusedError(
            f"the credentials found (access key {(frozen.access_key or '')[:4]}...) are long-term "
            "keys with no session token; safes3 uses temporary credentials from an assumed "
            "role: pass credentials=safes3.AssumeRole(role_arn=...), or use an AWS profile "
            "with role_arn/source_profile, or set allow_static_credentials=True if you "
            "really mean to use long-term keys"
        )
