"""Temporary credentials from STS, under the same transport rules as S3.

Two paths lead to STS: an explicit :class:`safes3.AssumeRole`, and an AWS
config profile with ``role_arn`` that boto3's own provider resolves.  Both
get the safes3 CA bundle (botocore otherwise takes ``AWS_CA_BUNDLE`` or
certifi for the STS side channel: boto3#4188) and a check, just before
anything is sent, that the request is HTTPS.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session
import urllib3.exceptions
from botocore.config import Config as BotocoreConfig
from botocore.credentials import CredentialProvider
from botocore.exceptions import (
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    ProfileNotFound,
)
from botocore.exceptions import (
    ConnectionError as BotocoreConnectionError,
)
from botocore.hooks import BaseEventHooks

from safes3._boundary import boundary
from safes3._core._gate import sts_base
from safes3._credentials._refresh import METHOD as _METHOD
from safes3._credentials._refresh import Fetch, RoleCredentials
from safes3._credentials._role import AssumeRole
from safes3._credentials._static import StaticCredentials
from safes3._exceptions import ConfigurationError, InsecureTransportError, RoleAssumptionError
from safes3._redact import register_secret

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient

__all__ = ["guard_sts", "harden", "install_role"]

_DEFAULT_REGION = "us-east-1"
_UNREACHABLE = (
    BotocoreConnectionError,
    HTTPClientError,
    ssl.SSLError,
    urllib3.exceptions.HTTPError,
)
_STS_CONFIG = BotocoreConfig(
    retries={"mode": "standard", "total_max_attempts": 2},
    connect_timeout=10,
    read_timeout=30,
)


def harden(core: botocore.session.Session, ca_path: str) -> None:
    """Give every STS client ``core`` makes the safes3 CA and the HTTPS check.

    Clients created by boto3's AssumeRoleProvider (profiles with role_arn)
    take ``verify`` from the ``ca_bundle`` setting and copy the session's
    event handlers, so both reach them.  An STS endpoint may come from the
    AWS config (``endpoint_url`` for sts, with a profile's ``role_arn``):
    the STS gate still holds it to HTTPS and the safes3 CA.
    """
    core.set_config_variable("ca_bundle", ca_path)
    guard_sts(core.get_component("event_emitter"), ca_path)


class _Provider(CredentialProvider):
    METHOD = _METHOD
    CANONICAL_NAME = "safes3AssumeRole"

    def __init__(self, credentials: RoleCredentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> RoleCredentials:
        return self._credentials


def install_role(
    core: botocore.session.Session, role: AssumeRole, *, ca_path: str, region: str | None
) -> RoleCredentials:
    """Assume ``role`` now (errors surface at construction) and make it ``core``'s credentials."""
    harden(core, ca_path)
    sts = sts_client(role, ca_path=ca_path, region=region)
    credentials = RoleCredentials(role, make_fetcher(role, sts))
    resolver = core.get_component("credential_provider")
    resolver.insert_before(resolver.providers[0].METHOD, _Provider(credentials))
    return credentials


def sts_client(role: AssumeRole, *, ca_path: str, region: str | None) -> STSClient:
    """An STS client on the role's source credentials, verified with the safes3 CA."""
    source_core = botocore.session.Session()
    harden(source_core, ca_path)
    src = role.source
    if isinstance(src, StaticCredentials):
        session = boto3.session.Session(
            botocore_session=source_core,
            aws_access_key_id=src.access_key_id,
            aws_secret_access_key=src.secret_access_key,
            aws_session_token=src.session_token,
        )
    else:
        try:
            session = boto3.session.Session(botocore_session=source_core, profile_name=src)
        except ProfileNotFound as exc:
            raise ConfigurationError(
                f"AssumeRole source profile {src!r} is not in the AWS config files"
            ) from exc
    client: STSClient = session.client(
        "sts",
        endpoint_url=role.sts_endpoint_url,
        region_name=region or session.region_name or _DEFAULT_REGION,
        verify=ca_path,
        use_ssl=True,
        config=_STS_CONFIG,
    )
    if not client.meta.endpoint_url.lower().startswith("https://"):
        raise InsecureTransportError(
            f"the STS endpoint resolved to {client.meta.endpoint_url!r}, which is not HTTPS"
        )
    return client


def make_fetcher(role: AssumeRole, sts: STSClient) -> Fetch:
    """The refresh function: one AssumeRole call, its failures translated.

    A missing source identity and an unreachable STS (connection, TLS or
    urllib3 failures, wrapped by botocore or not) have their own reasons; an
    answer from STS is read by :func:`translate`; anything else foreign (an
    answer botocore cannot parse) crosses the boundary as a ``rejected``
    assumption, never as botocore's own exception.
    """

    def fetch() -> dict[str, str]:
        try:
            kwargs = role.assume_role_kwargs()
        except Exception as exc:
            raise RoleAssumptionError(
                f"the mfa_token callback failed ({type(exc).__name__}); cannot assume "
                f"{role.role_arn} without a current MFA code",
                reason="mfa",
            ) from exc
        with boundary(
            f"AssumeRole for {role.role_arn}",
            into=lambda said: RoleAssumptionError(said, reason="rejected"),
            answers=lambda _, exc: translate(exc, role),
        ):
            try:
                answer = sts.assume_role(**kwargs)
            except NoCredentialsError as exc:
                raise RoleAssumptionError(
                    f"no credentials to call STS with for {role.role_arn}: set source= "
                    "(a profile name or safes3.StaticCredentials) or configure the boto3 chain",
                    reason="no-source",
                ) from exc
            except _UNREACHABLE as exc:
                raise RoleAssumptionError(
                    f"STS at {sts.meta.endpoint_url} is unreachable ({type(exc).__name__}); "
                    "check sts_endpoint_url, the network, and that the CA bundle verifies it",
                    reason="unreachable",
                ) from exc
        found = answer["Credentials"]
        register_secret(found["SecretAccessKey"])
        register_secret(found["SessionToken"])
        return {
            "access_key": found["AccessKeyId"],
            "secret_key": found["SecretAccessKey"],
            "token": found["SessionToken"],
            "expiry_time": found["Expiration"].isoformat(),
        }

    return fetch


def translate(exc: ClientError, role: AssumeRole) -> RoleAssumptionError:
    """An STS error as a sentence; Ceph RGW answers with a bare status and no code."""
    error = exc.response.get("Error") or {}
    code = str(error.get("Code") or "")
    message = str(error.get("Message") or "")
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    said = (
        f"STS answered HTTP {status}"
        + (f" {code}" if code else "")
        + (f": {message}" if message else "")
    )
    arn = role.role_arn
    if code == "NoSuchEntity" or status == 404:
        return RoleAssumptionError(
            f"the role {arn} does not exist ({said}); check role_arn", reason="unknown-role"
        )
    if code in {"AccessDenied", "AccessDeniedException"} or status == 403:
        extra = " and the external id" if role.external_id else ""
        extra += " and MFA" if role.mfa_serial else ""
        return RoleAssumptionError(
            f"not allowed to assume {arn} ({said}): the role may not exist, or its trust "
            f"policy does not name the source identity{extra}; fix the trust policy or use "
            "another source",
            reason="not-trusted",
        )
    duration_hint = "duration" in message.lower() or (
        not code and status == 400 and role.duration_seconds > 3600
    )
    if duration_hint:
        return RoleAssumptionError(
            f"duration_seconds={role.duration_seconds} is more than {arn} allows ({said}); "
            "lower duration_seconds or raise the role's MaxSessionDuration",
            reason="duration",
        )
    return RoleAssumptionError(
        f"AssumeRole for {arn} was rejected ({said}); check the session policy, the session "
        "name and the external id",
        reason="rejected",
    )


def guard_sts(events: BaseEventHooks, ca_path: str) -> None:
    """Gate every STS client: an early refusal of plain HTTP, then the gate itself."""
    events.register("before-send.sts", _refuse_plain_sts, unique_id="safes3-sts-https")
    base = sts_base(ca_path)

    def on_sts_class(base_classes: list[type], **_: Any) -> None:
        if not any(getattr(b, "__name__", "") == base.__name__ for b in base_classes):
            base_classes.insert(0, base)

    events.register_last(
        "creating-client-class.sts",
        on_sts_class,
        unique_id="safes3-sts-class",
    )


def _refuse_plain_sts(request: Any, **_: Any) -> None:
    if not str(request.url).lower().startswith("https://"):
        raise InsecureTransportError(
            "an STS request would leave over plain HTTP and was refused before sending; "
            "set the STS endpoint (sts_endpoint_url, or endpoint_url for sts in the AWS "
            "config) to https://"
        )
