"""The private boto3 session and where its credentials come from.

Static keys, a named profile (with or without ``role_arn``), or an
:class:`~safes3.AssumeRole`: whichever it is, STS is reached only over HTTPS
with the safes3 CA bundle, and an S3 request refused for expired
credentials is retried once after renewing them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import boto3
import botocore.session
from botocore.utils import parse_timestamp

from safes3._credentials._expiry import install_expiry
from safes3._credentials._role import AssumeRole
from safes3._credentials._static import StaticCredentials
from safes3._credentials._sts import harden, install_role

__all__ = ["build_session"]


def build_session(
    *,
    profile: str | None,
    region: str | None,
    credentials: StaticCredentials | AssumeRole | None,
    ca_path: str,
) -> boto3.session.Session:
    """A boto3 session whose STS side channel follows the S3 transport rules."""
    core = botocore.session.Session()
    harden(core, ca_path)
    static = credentials if isinstance(credentials, StaticCredentials) else None
    session = boto3.session.Session(
        botocore_session=core,
        profile_name=profile,
        region_name=region,
        aws_access_key_id=static.access_key_id if static else None,
        aws_secret_access_key=static.secret_access_key if static else None,
        aws_session_token=static.session_token if static else None,
    )
    if isinstance(credentials, AssumeRole):
        install_role(core, credentials, ca_path=ca_path, region=session.region_name)
    install_expiry(core.get_component("event_emitter"), core.get_credentials)
    core.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=_timestamp)
    return session


def _timestamp(value: Any) -> Any:
    """Listings' ISO 8601 timestamps through the standard library, not dateutil.

    botocore's dateutil parser is about half the CPU of a large listing
    (measured by the bulk benchmarks); anything ``fromisoformat`` cannot read
    goes to botocore's own parser.
    """
    if isinstance(value, str) and value.endswith("Z") and "T" in value:
        try:
            return dt.datetime.fromisoformat(value[:-1]).replace(tzinfo=dt.timezone.utc)
        except ValueError:
            pass
    return parse_timestamp(value)
