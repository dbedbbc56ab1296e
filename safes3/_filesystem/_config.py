"""A :class:`~safes3.Config` as ``safes3://`` storage options, with no secret in them."""

from __future__ import annotations

import os
from typing import Any

from safes3._config import Config
from safes3._core._encryption import SSEC, SSEKMS, Encryption
from safes3._credentials._role import AssumeRole
from safes3._credentials._static import StaticCredentials
from safes3._exceptions import ConfigurationError
from safes3._filesystem._options import FSOptions, key_available

__all__ = ["storage_options"]


def storage_options(
    config: Config,
    *,
    ssec_key_env: str | None = None,
    ssec_key_file: str | None = None,
    role_source_profile: str | None = None,
    part_size_mib: int | None = None,
    max_concurrency: int | None = None,
) -> dict[str, Any]:
    """The ``safes3://`` storage options describing ``config``, with no secret in them.

    For SSE-C, name where every process finds the key (``ssec_key_env`` or
    ``ssec_key_file``); the key's fingerprint is taken from ``config``.
    Credentials do not travel: with an :class:`~safes3.AssumeRole`, each
    process assumes the role from its own environment's source credentials
    (or ``role_source_profile``); without one, each uses its default chain.
    """
    settings: dict[str, Any] = {
        "endpoint_url": config.endpoint_url,
        "ca_bundle": None if config.ca_bundle is None else os.fspath(config.ca_bundle),
        "store": config.store_profile.name,
        "region": config.region,
        "profile": config.profile,
        "allow_static_credentials": config.allow_static_credentials,
        "part_size_mib": part_size_mib,
        "max_concurrency": max_concurrency,
    }
    if config.botocore_config is not None:
        raise ConfigurationError(
            "botocore_config cannot travel to other processes; drop it from the Config"
        )
    settings.update(_role_settings(config.credentials, role_source_profile))
    settings.update(_encryption_settings(config.encryption, ssec_key_env, ssec_key_file))
    options = FSOptions(**settings)
    options.check()
    if isinstance(config.encryption, SSEC) and key_available(options):
        options.resolve_encryption()
    return options.as_kwargs()


def _role_settings(credentials: object, source_profile: str | None) -> dict[str, Any]:
    if credentials is None:
        return {}
    if not isinstance(credentials, AssumeRole):
        raise ConfigurationError(
            "static credentials cannot travel to other processes without their secret; give "
            "every process source credentials in its environment and use safes3.AssumeRole"
        )
    if isinstance(credentials.source, StaticCredentials):
        raise ConfigurationError(
            "AssumeRole(source=StaticCredentials(...)) cannot travel without its secret; leave "
            "source unset (each process's default chain) or name a profile"
        )
    if credentials.external_id is not None or credentials.mfa_serial is not None:
        raise ConfigurationError(
            "external_id and MFA cannot travel to workers; use a role without them"
        )
    return {
        "role_arn": credentials.role_arn,
        "role_session_name": credentials.session_name,
        "role_duration_seconds": credentials.duration_seconds,
        "role_session_policy": credentials.session_policy,
        "role_source_profile": source_profile or credentials.source,
        "sts_endpoint_url": credentials.sts_endpoint_url,
    }


def _encryption_settings(
    encryption: Encryption, key_env: str | None, key_file: str | None
) -> dict[str, Any]:
    if isinstance(encryption, SSEKMS):
        return {
            "encryption": "SSE-KMS",
            "kms_key_id": encryption.key_id,
            "kms_context": None if encryption.context is None else dict(encryption.context),
            "kms_bucket_key": encryption.bucket_key,
        }
    if isinstance(encryption, SSEC):
        return {
            "encryption": "SSE-C",
            "ssec_key_env": key_env,
            "ssec_key_file": key_file,
            "ssec_fingerprint": encryption.fingerprint,
        }
    return {"encryption": "SSE-S3"}
