"""The description of a role to assume: what STS is asked for, checked before any call.

Everything that can be wrong with the settings themselves (an ARN of the wrong
shape, a duration STS never grants, an MFA serial without a way to get
codes, a plain-HTTP STS endpoint) is refused here, when the object is built,
so that nothing is ever sent on the strength of a bad configuration.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from safes3._credentials._static import StaticCredentials
from safes3._exceptions import ConfigurationError
from safes3._tls import check_https_url

__all__ = ["AssumeRole"]

_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{0,12}:role/[\w+=,.@/-]{1,512}$")
_SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")
_MIN_DURATION, _MAX_DURATION = 900, 43200


def utc_now() -> dt.datetime:
    """The default clock: aware UTC time, as botocore compares expiry times."""
    return dt.datetime.now(dt.timezone.utc)


@dataclass(frozen=True, kw_only=True)
class AssumeRole:
    """Temporary credentials from STS AssumeRole, refreshed before they expire.

    ``source`` supplies the credentials that call STS: None for the default
    boto3 chain, a profile name, or :class:`StaticCredentials`.
    ``session_policy`` (a dict or a JSON string) narrows the role and is sent
    as compact JSON.  ``mfa_serial`` needs ``mfa_token``, a callable asked
    for a fresh code at every refresh.  Credentials are renewed
    ``refresh_margin_seconds`` before expiry; ``clock`` (aware datetimes)
    exists so that tests can move time instead of waiting.
    """

    role_arn: str
    session_name: str = "safes3"
    external_id: str | None = field(default=None, repr=False)
    duration_seconds: int = 3600
    session_policy: dict[str, Any] | str | None = None
    mfa_serial: str | None = None
    mfa_token: Callable[[], str] | None = field(default=None, repr=False, compare=False)
    source: StaticCredentials | str | None = None
    sts_endpoint_url: str | None = None
    refresh_margin_seconds: int = 300
    clock: Callable[[], dt.datetime] = field(default=utc_now, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.role_arn, str) or not _ROLE_ARN.match(self.role_arn):
            raise ConfigurationError(
                f"role_arn {self.role_arn!r} is not an IAM role ARN "
                "(arn:aws:iam::<account>:role/<name>)"
            )
        if not _SESSION_NAME.match(self.session_name):
            raise ConfigurationError(
                f"session_name {self.session_name!r} must be 2-64 characters of "
                "letters, digits and +=,.@_-"
            )
        if self.external_id is not None and not 2 <= len(self.external_id) <= 1224:
            raise ConfigurationError("external_id must be 2-1224 characters long")
        duration = self.duration_seconds
        if isinstance(duration, bool) or not isinstance(duration, int):
            raise ConfigurationError("duration_seconds must be an int")
        if not _MIN_DURATION <= duration <= _MAX_DURATION:
            raise ConfigurationError(
                f"duration_seconds={duration} is outside what STS grants "
                f"({_MIN_DURATION}..{_MAX_DURATION}); the role's MaxSessionDuration may lower it"
            )
        margin = self.refresh_margin_seconds
        if isinstance(margin, bool) or not isinstance(margin, int) or not 0 < margin < duration:
            raise ConfigurationError(
                f"refresh_margin_seconds={margin!r} must be a positive int below "
                f"duration_seconds ({duration}), or every call would refresh"
            )
        if self.mfa_serial is not None and self.mfa_token is None:
            raise ConfigurationError(
                "mfa_serial needs mfa_token, a callable returning a current MFA code: "
                "each refresh asks it again, so a long run does not fail at the first expiry"
            )
        if self.mfa_token is not None and self.mfa_serial is None:
            raise ConfigurationError("mfa_token is only used together with mfa_serial")
        if self.source is not None and not isinstance(self.source, (str, StaticCredentials)):
            raise ConfigurationError(
                "source must be None (default boto3 chain), a profile name, "
                "or safes3.StaticCredentials"
            )
        if self.sts_endpoint_url is not None:
            check_https_url(
                self.sts_endpoint_url,
                name="sts_endpoint_url",
                consequence="credentials would cross the network in clear",
            )
        object.__setattr__(self, "session_policy", _compact_policy(self.session_policy))

    def assume_role_kwargs(self) -> dict[str, Any]:
        """The AssumeRole parameters; asks ``mfa_token`` for a new code each time."""
        kwargs: dict[str, Any] = {
            "RoleArn": self.role_arn,
            "RoleSessionName": self.session_name,
            "DurationSeconds": self.duration_seconds,
        }
        if self.external_id is not None:
            kwargs["ExternalId"] = self.external_id
        if self.session_policy is not None:
            kwargs["Policy"] = self.session_policy
        if self.mfa_serial is not None and self.mfa_token is not None:
            kwargs["SerialNumber"] = self.mfa_serial
            kwargs["TokenCode"] = self.mfa_token()
        return kwargs


def _compact_policy(policy: dict[str, Any] | str | None) -> str | None:
    """Session policies as compact JSON: some stores (Ceph RGW) reject any whitespace."""
    if policy is None:
        return None
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError as exc:
            raise ConfigurationError(f"session_policy is not valid JSON: {exc}") from None
    if not isinstance(policy, dict):
        raise ConfigurationError("session_policy must be a JSON object (a policy document)")
    return json.dumps(policy, separators=(",", ":"))
