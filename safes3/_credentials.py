"""Where the credentials for S3 come from, and the rule against long-term keys.

Application code should run on temporary credentials from an assumed role;
long-term access keys are accepted only when the caller says so explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from botocore.credentials import Credentials

from safes3._exceptions import StaticCredentialsRefusedError
from safes3._redact import register_secret

__all__ = ["StaticCredentials", "check_temporary"]


@dataclass(frozen=True, kw_only=True)
class StaticCredentials:
    """Explicit keys.  The secret and the token never appear in ``repr``."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        register_secret(self.secret_access_key)
        register_secret(self.session_token)

    @property
    def is_temporary(self) -> bool:
        return self.session_token is not None


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
    if frozen.token is None and not allow_static:
        raise StaticCredentialsRefusedError(
            f"the credentials found (access key {(frozen.access_key or '')[:4]}...) are long-term "
            "keys with no session token; safes3 uses temporary credentials from an assumed "
            "role: pass credentials=safes3.AssumeRole(role_arn=...), or use an AWS profile "
            "with role_arn/source_profile, or set allow_static_credentials=True if you "
            "really mean to use long-term keys"
        )
