"""Build the private boto3 session and the genuine clients it hands out."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import boto3
from botocore.client import BaseClient
from botocore.config import Config as BotocoreConfig
from botocore.exceptions import BotoCoreError, ClientError

from safes3._boto import build_session
from safes3._config import Config
from safes3._credentials import check_temporary
from safes3._exceptions import ConfigurationError, InsecureTransportError
from safes3._hooks import guard_policy, install
from safes3._redact import install as install_redaction
from safes3._rules import Policy

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client, S3ServiceResource

__all__ = ["Session", "client", "is_guarded"]

_DEFAULT_REGION = "us-east-1"


class Session:
    """Hands out S3 clients and resources that all enforce one :class:`Config`.

    ``Session(config)`` or ``Session(encryption=..., endpoint_url=..., ...)``
    with the keyword arguments of :class:`Config`.
    """

    def __init__(self, config: Config | None = None, **settings: Any) -> None:
        if config is not None and settings:
            raise ConfigurationError("pass either a Config or keyword settings, not both")
        self.config: Config = config if config is not None else Config(**settings)
        install_redaction()
        cfg = self.config
        self._boto = build_session(
            profile=cfg.profile,
            region=cfg.region,
            credentials=cfg.credentials,
            ca_path=cfg.tls.path,
        )
        self.policy = Policy(encryption=cfg.encryption, profile=cfg.store_profile)
        install(self._boto.events, self.policy, self)
        self._janitor_client: BaseClient | None = None
        self._lock = threading.Lock()
        check_temporary(self._boto.get_credentials(), allow_static=cfg.allow_static_credentials)

    def __repr__(self) -> str:
        cfg = self.config
        return (
            f"safes3.Session(endpoint_url={cfg.endpoint_url!r}, encryption={cfg.encryption!r}, "
            f"store={cfg.store_profile.name!r})"
        )

    @property
    def boto3_session(self) -> boto3.session.Session:
        """The private boto3 session carrying safes3's handlers."""
        return self._boto

    def client_kwargs(self) -> dict[str, Any]:
        cfg = self.config
        region = cfg.region or self._boto.region_name or _DEFAULT_REGION
        return {
            "endpoint_url": cfg.endpoint_url,
            "region_name": region,
            "verify": cfg.tls.path,
            "use_ssl": True,
            "config": self._botocore_config(),
        }

    def client(self) -> S3Client:
        """A genuine botocore S3 client with every safes3 guard installed."""
        made: S3Client = self._boto.client("s3", **self.client_kwargs())
        if not made.meta.endpoint_url.startswith("https://"):
            raise InsecureTransportError(
                f"the resolved endpoint {made.meta.endpoint_url!r} is not HTTPS"
            )
        return made

    def resource(self) -> S3ServiceResource:
        """The boto3 resource API, on a client carrying the same guards."""
        made: S3ServiceResource = self._boto.resource("s3", **self.client_kwargs())
        return made

    def _botocore_config(self) -> BotocoreConfig:
        profile = self.config.store_profile
        user = self.config.botocore_config
        user_s3: dict[str, Any] = dict(getattr(user, "s3", None) or {})
        user_s3.update(addressing_style=profile.addressing_style, payload_signing_enabled=False)
        ours = BotocoreConfig(
            signature_version="s3v4",
            request_checksum_calculation="when_required",
            response_checksum_validation="when_supported",
            s3=user_s3,  # type: ignore[arg-type]
        )
        if user is None:
            return ours.merge(BotocoreConfig(retries={"mode": "standard"}))
        return user.merge(ours)

    def _janitor(self) -> Any:
        with self._lock:
            if self._janitor_client is None:
                self._janitor_client = self._boto.client("s3", **self.client_kwargs())
        return self._janitor_client

    def head(self, stash: Mapping[str, Any], parsed: Mapping[str, Any]) -> dict[str, Any]:
        """HeadObject of what a write just stored (its response is the proof)."""
        extra = {"VersionId": parsed["VersionId"]} if parsed.get("VersionId") else {}
        try:
            found: dict[str, Any] = self._janitor().head_object(
                Bucket=stash.get("Bucket"), Key=stash.get("Key"), **extra
            )
        except (BotoCoreError, ClientError):
            return {}
        return found

    def remove(self, operation: str, stash: Mapping[str, Any], parsed: Mapping[str, Any]) -> bool:
        """Delete the object, or abort the upload, that an unproven write left."""
        bucket, key = stash.get("Bucket"), stash.get("Key")
        upload_id = stash.get("UploadId") or parsed.get("UploadId")
        try:
            if operation in {"CreateMultipartUpload", "UploadPart", "UploadPartCopy"}:
                self._janitor().abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            else:
                extra = {"VersionId": parsed["VersionId"]} if parsed.get("VersionId") else {}
                self._janitor().delete_object(Bucket=bucket, Key=key, **extra)
        except (BotoCoreError, ClientError):
            return False
        return True


def client(config: Config | None = None, **settings: Any) -> S3Client:
    """A genuine boto3 S3 client enforcing ``config`` (or the keyword settings).

    The one-line replacement for ``boto3.client("s3", ...)``.
    """
    return Session(config, **settings).client()


def is_guarded(s3: BaseClient) -> bool:
    """Whether ``s3`` still carries safes3's handlers."""
    return guard_policy(s3.meta.events) is not None
