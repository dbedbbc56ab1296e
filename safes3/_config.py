"""The settings of a safes3 session: frozen, keyword-only, validated on construction."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from botocore.config import Config as BotocoreConfig

from safes3._core._encryption import Encryption
from safes3._core._operations import NEVER, OPERATIONS
from safes3._core._profiles import StoreProfile, get_profile
from safes3._credentials._role import AssumeRole
from safes3._credentials._static import StaticCredentials
from safes3._exceptions import ConfigurationError, InsecureTransportError
from safes3._tls import CABundle, check_https_url, check_tls_floor, load_ca_bundle

__all__ = ["Config"]

_WEEK = 7 * 24 * 3600


@dataclass(frozen=True, kw_only=True)
class Config:
    """Everything a :class:`safes3.Session` enforces.

    ``endpoint_url`` is None for AWS, else an ``https://`` URL of an
    S3-compatible store; ``ca_bundle`` a PEM path or PEM text (default:
    certifi's bundle, never ``AWS_CA_BUNDLE``); ``encryption`` the mode put on
    every write; ``store`` the endpoint profile (``aws``, ``ceph``,
    ``seaweedfs``, ``minio``, ``generic``; default ``aws`` without an endpoint,
    ``generic`` with one).  ``verify`` exists only so that ``verify=False``
    can be refused loudly.

    ``allow_operations`` names operations that change access or encryption
    (``PutBucketPolicy`` with a public statement, ``DeletePublicAccessBlock``,
    ``DeleteBucketEncryption``...) that this client may send anyway; ACL
    changes are refused whatever it says.  ``presign_max_expires`` caps the
    lifetime of presigned URLs and POST forms, in seconds.
    """

    encryption: Encryption
    endpoint_url: str | None = None
    ca_bundle: str | os.PathLike[str] | None = None
    region: str | None = None
    profile: str | None = None
    store: str | StoreProfile | None = None
    credentials: StaticCredentials | AssumeRole | None = None
    allow_static_credentials: bool = False
    botocore_config: BotocoreConfig | None = None
    verify: bool | None = None
    allow_operations: frozenset[str] = frozenset()
    presign_max_expires: int = 3600
    store_profile: StoreProfile = field(init=False, repr=False)
    tls: CABundle = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.encryption, Encryption) or type(self.encryption) is Encryption:
            raise ConfigurationError(
                "encryption must be one of safes3.SSEKMS(key_id), safes3.SSES3() or "
                f"safes3.SSEC(key), got {self.encryption!r}"
            )
        if self.verify is False:
            raise InsecureTransportError(
                "verify=False turns off certificate checks and is refused; pass "
                "ca_bundle=<path or PEM text> for a private CA instead"
            )
        if self.endpoint_url is not None:
            check_https_url(
                self.endpoint_url,
                name="endpoint",
                consequence="safes3 talks to S3 only over verified TLS",
            )
        check_tls_floor()
        object.__setattr__(self, "tls", load_ca_bundle(self.ca_bundle))
        default = "aws" if self.endpoint_url is None else "generic"
        object.__setattr__(self, "store_profile", get_profile(self.store or default))
        if self.botocore_config is not None:
            _check_botocore_config(self.botocore_config)
        object.__setattr__(self, "allow_operations", _allowed(self.allow_operations))
        expires = self.presign_max_expires
        if isinstance(expires, bool) or not isinstance(expires, int) or not 1 <= expires <= _WEEK:
            raise ConfigurationError(
                f"presign_max_expires must be 1..{_WEEK} seconds (SigV4's limit), got {expires!r}"
            )


def _allowed(names: object) -> frozenset[str]:
    if isinstance(names, str) or not isinstance(names, Iterable):
        raise ConfigurationError(
            "allow_operations takes a set of S3 operation names, e.g. {'PutBucketPolicy'}"
        )
    found = frozenset(str(n) for n in names)
    for name in sorted(found):
        known = OPERATIONS.get(name)
        if name in NEVER:
            raise ConfigurationError(
                f"{name} changes an ACL; safes3 never allows that, whatever the settings"
            )
        if known is None or known.inspector is None:
            raise ConfigurationError(
                f"allow_operations names {name!r}, which is not an operation safes3 refuses; "
                "it takes only operations that change access or encryption"
            )
    return found


def _check_botocore_config(cfg: BotocoreConfig) -> None:
    if getattr(cfg, "signature_version", None) not in (None, "s3v4"):
        raise ConfigurationError(
            "safes3 signs with SigV4 only (signature_version='s3v4'); drop the setting"
        )
    proxies = getattr(cfg, "proxies_config", None) or {}
    if proxies.get("proxy_use_forwarding_for_https"):
        raise InsecureTransportError(
            "proxies_config proxy_use_forwarding_for_https=True hands every request, SSE-C keys "
            "included, to the proxy in the clear; drop it (a tunnelling proxy sees nothing)"
        )
    s3 = getattr(cfg, "s3", None) or {}
    if s3.get("payload_signing_enabled") is not None:
        raise ConfigurationError(
            "payload signing is chosen by safes3; drop s3.payload_signing_enabled"
        )
