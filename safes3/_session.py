"""Build the private boto3 session and the genuine clients it hands out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from botocore.config import Config as BotocoreConfig

from safes3._config import Config
from safes3._core._hooks import GateSettings, install, is_guarded
from safes3._core._janitor import Janitor
from safes3._core._rules import Policy
from safes3._credentials._boto import build_session
from safes3._credentials._static import check_temporary
from safes3._exceptions import ConfigurationError, InsecureTransportError
from safes3._redact import install as install_redaction
from safes3._transfer._dropin import transfer_methods

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client, S3ServiceResource

__all__ = ["Session", "client", "is_guarded"]

_DEFAULT_REGION = "us-east-1"
_IGNORE_CONFIGURED_ENDPOINTS: Any = {"ignore_configured_endpoint_urls": True}


class Session:
    """Hands out S3 clients and resources that all enforce one :class:`Config`.

    ``Session(config)`` or ``Session(encryption=..., endpoint_url=..., ...)``
    with the keyword arguments of :class:`Config`.  The boto3 session behind
    it stays private: a client made from it without safes3's settings could
    not be trusted.
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
        install(
            self._boto.events,
            self.policy,
            Janitor(self._new_client),
            class_methods=transfer_methods,
            settings=GateSettings(
                ca_path=cfg.tls.path,
                aws=cfg.endpoint_url is None,
                allowed=cfg.allow_operations,
                presign_max_expires=cfg.presign_max_expires,
            ),
        )
        check_temporary(self._boto.get_credentials(), allow_static=cfg.allow_static_credentials)

    def __repr__(self) -> str:
        cfg = self.config
        return (
            f"safes3.Session(endpoint_url={cfg.endpoint_url!r}, encryption={cfg.encryption!r}, "
            f"store={cfg.store_profile.name!r})"
        )

    def __reduce__(self) -> NoReturn:
        raise TypeError(
            "a safes3.Session holds credentials and cannot be pickled; build one where it is used"
        )

    def _client_kwargs(self) -> dict[str, Any]:
        cfg = self.config
        region = cfg.region or self._boto.region_name or _DEFAULT_REGION
        return {
            "endpoint_url": cfg.endpoint_url,
            "region_name": region,
            "verify": cfg.tls.path,
            "use_ssl": True,
            "config": self._botocore_config(),
        }

    def _new_client(self) -> Any:
        return self._boto.client("s3", **self._client_kwargs())

    def client(self) -> S3Client:
        """A genuine botocore S3 client with every safes3 guard installed."""
        made: S3Client = self._new_client()
        if not made.meta.endpoint_url.startswith("https://"):
            raise InsecureTransportError(
                f"the resolved endpoint {made.meta.endpoint_url!r} is not HTTPS"
            )
        if not is_guarded(made):
            raise ConfigurationError(
                "the client came out without safes3's gate or handlers; refusing to hand it out"
            )
        return made

    def resource(self) -> S3ServiceResource:
        """The boto3 resource API, on a client carrying the same guards."""
        made: S3ServiceResource = self._boto.resource("s3", **self._client_kwargs())
        if not is_guarded(made.meta.client):
            raise ConfigurationError(
                "the resource's client came out without safes3's gate; refusing to hand it out"
            )
        return made

    def _botocore_config(self) -> BotocoreConfig:
        profile = self.config.store_profile
        user = self.config.botocore_config
        user_s3: dict[str, Any] = dict(getattr(user, "s3", None) or {})
        user_s3.update(addressing_style=profile.addressing_style, payload_signing_enabled=False)
        ours = BotocoreConfig(
            # S3 endpoints from AWS_ENDPOINT_URL_S3 or the config files are ignored, as
            # AWS_CA_BUNDLE is: only the settings given to safes3 say where data goes.
            **_IGNORE_CONFIGURED_ENDPOINTS,
            signature_version="s3v4",
            request_checksum_calculation="when_required",
            response_checksum_validation="when_supported",
            s3=user_s3,  # type: ignore[arg-type]
        )
        if user is None:
            return ours.merge(BotocoreConfig(retries={"mode": "standard"}))
        return user.merge(ours)


def client(config: Config | None = None, **settings: Any) -> S3Client:
    """A genuine boto3 S3 client enforcing ``config`` (or the keyword settings).

    The one-line replacement for ``boto3.client("s3", ...)``.
    """
    return Session(config, **settings).client()
