"""What a ``safes3://`` filesystem is made of, with no secret in it.

An fsspec filesystem travels as its keyword arguments: in ``pickle``, in
``to_json``, in ``storage_options`` and in every task of a Dask graph.  So
those arguments are a description of the settings, never the settings'
secrets: the endpoint, the CA, the store profile, the role to assume and the
encryption mode; for SSE-KMS the key id; for SSE-C only a *reference* to the
key (an environment variable or a file on the machine that runs the task)
and the key's MD5 fingerprint, which the process checks after resolving the
reference.  Credentials are never described: each process assumes the role
with the source credentials of its own environment.

:class:`FSOptions` validates such a description, builds the guarded
:class:`~safes3.Session` from it (one per process and description, shared
by the threads fsspec gives their own filesystem instances), and turns a
:class:`~safes3.Config` back into a description.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safes3._config import Config
from safes3._core._encryption import SSEC, SSEKMS, SSES3, Encryption
from safes3._credentials._role import AssumeRole, utc_now
from safes3._exceptions import ConfigurationError, EncryptionConfigError
from safes3._session import Session
from safes3._transfer._settings import TransferSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["FSOptions", "key_available"]

MODES = ("SSE-KMS", "SSE-S3", "SSE-C")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
_SECRET_OPTIONS = frozenset(
    {
        "key",
        "secret",
        "token",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "ssec_key",
        "sse_customer_key",
        "SSECustomerKey",
        "credentials",
        "client_kwargs",
        "config_kwargs",
        "s3_additional_kwargs",
    }
)

CLOCK: Callable[[], dt.datetime] = utc_now
"""The clock role credentials are timed by in this process (tests move it)."""


def _clock() -> dt.datetime:
    return CLOCK()


@dataclass(frozen=True, kw_only=True)
class FSOptions:
    """The secret-free description of a ``safes3://`` filesystem.

    Every field is a plain JSON value, so the description survives
    ``to_json`` and is tokenised by fsspec's instance cache: two
    filesystems with different SSE-C keys differ in ``ssec_fingerprint``.
    """

    encryption: str
    endpoint_url: str | None = None
    ca_bundle: str | None = None
    store: str | None = None
    region: str | None = None
    profile: str | None = None
    role_arn: str | None = None
    role_session_name: str = "safes3"
    role_duration_seconds: int = 3600
    role_session_policy: str | None = None
    role_source_profile: str | None = None
    sts_endpoint_url: str | None = None
    kms_key_id: str | None = None
    kms_context: dict[str, str] | None = None
    kms_bucket_key: bool | None = None
    ssec_key_env: str | None = None
    ssec_key_file: str | None = None
    ssec_fingerprint: str | None = None
    allow_static_credentials: bool = False
    part_size_mib: int | None = None
    max_concurrency: int | None = None

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any]) -> FSOptions:
        """Validate fsspec keyword arguments; secrets are refused, not ignored."""
        secret = sorted(_SECRET_OPTIONS.intersection(kwargs))
        if secret:
            raise ConfigurationError(
                f"safes3:// storage options must not carry secrets or client settings "
                f"({', '.join(secret)}): they travel in pickles, to_json and Dask graphs. "
                "Give each process source credentials in its environment (or an AWS profile) "
                "and role_arn=; for SSE-C pass ssec_key_env= or ssec_key_file= and "
                "ssec_fingerprint="
            )
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise ConfigurationError(
                f"unknown safes3:// storage option(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        options = cls(**dict(kwargs))
        options.check()
        return options

    def check(self) -> None:
        """Every check that needs no network and no key: run on every unpickling too."""
        if self.encryption not in MODES:
            raise EncryptionConfigError(
                f"encryption must be one of {', '.join(MODES)}, got {self.encryption!r}"
            )
        if (self.kms_key_id is not None) != (self.encryption == "SSE-KMS"):
            raise EncryptionConfigError("kms_key_id goes with encryption='SSE-KMS', and only there")
        _check_ssec(self)
        if self.part_size_mib is not None and not isinstance(self.part_size_mib, int):
            raise ConfigurationError("part_size_mib must be an int")
        self.transfer_settings()
        Config(**self._config_settings(SSES3(), credentials=None))
        if self.role_arn is not None:
            self._role()

    def as_kwargs(self) -> dict[str, Any]:
        """The storage options: only the fields that differ from the defaults."""
        default = FSOptions(encryption=self.encryption)
        mine, base = asdict(self), asdict(default)
        return {k: v for k, v in mine.items() if k == "encryption" or v != base[k]}

    def describe(self) -> str:
        """A short, secret-free summary for ``repr``."""
        extra = ""
        if self.encryption == "SSE-KMS":
            extra = f", kms_key_id={self.kms_key_id!r}"
        elif self.encryption == "SSE-C":
            ref = f"${self.ssec_key_env}" if self.ssec_key_env else self.ssec_key_file
            extra = f", ssec_key={ref!r}, ssec_fingerprint={self.ssec_fingerprint!r}"
        return f"endpoint_url={self.endpoint_url!r}, encryption={self.encryption!r}{extra}"

    def transfer_settings(self) -> TransferSettings:
        settings: dict[str, Any] = {}
        if self.part_size_mib is not None:
            settings["part_size"] = self.part_size_mib << 20
        if self.max_concurrency is not None:
            settings["max_concurrency"] = self.max_concurrency
        return TransferSettings(**settings)

    # ---- resolving, in the process that sends -----------------------------------

    def resolve_encryption(self) -> Encryption:
        """The encryption mode, with the SSE-C key read from its reference and checked."""
        if self.encryption == "SSE-S3":
            return SSES3()
        if self.encryption == "SSE-KMS":
            assert self.kms_key_id is not None
            return SSEKMS(self.kms_key_id, context=self.kms_context, bucket_key=self.kms_bucket_key)
        key = _read_key(self)
        if key.fingerprint != self.ssec_fingerprint:
            where = _where(self)
            raise EncryptionConfigError(
                f"the SSE-C key in {where} has fingerprint {key.fingerprint!r}, but this "
                f"filesystem was configured for {self.ssec_fingerprint!r}: refusing to read or "
                "write with another key"
            )
        return key

    def session(self) -> Session:
        """This process's guarded session for this description (one, shared by threads)."""
        made: Session = _shared(self, "data", self._new_session)
        return made

    def listing_client(self) -> S3Client:
        """A client for listings and deletes, usable where the SSE-C key is not.

        Listing and deleting never carry an SSE-C key.  A process that
        cannot resolve the key (a Dask driver planning a job whose tasks run
        elsewhere) gets a client that refuses every other operation before
        anything is sent; elsewhere this is the session's own client.
        """
        if self.encryption != "SSE-C" or key_available(self):
            return self.session_client()
        made: S3Client = _shared(self, "listing", self._new_listing_client)
        return made

    def session_client(self) -> S3Client:
        made: S3Client = _shared(self, "client", lambda: self.session().client())
        return made

    def _new_session(self) -> Session:
        encryption = self.resolve_encryption()
        return Session(**self._config_settings(encryption, credentials=self._credentials()))

    def _new_listing_client(self) -> S3Client:
        # SSE-S3 here only satisfies Config; the hook below lets no write through.
        settings = self._config_settings(SSES3(), credentials=self._credentials())
        made = Session(**settings).client()
        made.meta.events.register_first("before-parameter-build.s3", _listing_only)
        return made

    def _credentials(self) -> AssumeRole | None:
        return self._role() if self.role_arn is not None else None

    def _role(self) -> AssumeRole:
        assert self.role_arn is not None
        return AssumeRole(
            role_arn=self.role_arn,
            session_name=self.role_session_name,
            duration_seconds=self.role_duration_seconds,
            session_policy=self.role_session_policy,
            source=self.role_source_profile,
            sts_endpoint_url=self.sts_endpoint_url,
            clock=_clock,
        )

    def _config_settings(self, encryption: Encryption, *, credentials: Any) -> dict[str, Any]:
        return {
            "encryption": encryption,
            "endpoint_url": self.endpoint_url,
            "ca_bundle": self.ca_bundle,
            "store": self.store,
            "region": self.region,
            "profile": self.profile,
            "credentials": credentials,
            "allow_static_credentials": self.allow_static_credentials,
        }


def _check_ssec(self: FSOptions) -> None:
    """The SSE-C fields: one key reference, a plausible fingerprint; only with SSE-C."""
    refs = [r for r in (self.ssec_key_env, self.ssec_key_file) if r is not None]
    if self.encryption != "SSE-C":
        if refs or self.ssec_fingerprint is not None:
            raise EncryptionConfigError(
                "ssec_key_env/ssec_key_file/ssec_fingerprint go with encryption='SSE-C'"
            )
        return
    if len(refs) != 1:
        raise EncryptionConfigError(
            "SSE-C needs exactly one key reference: ssec_key_env='VARIABLE' (base64 key in "
            "the environment of every process) or ssec_key_file='/path' (a file readable "
            "there); the key itself never goes into storage options"
        )
    if self.ssec_key_env is not None and not _ENV_NAME.match(self.ssec_key_env):
        raise EncryptionConfigError(
            f"ssec_key_env={self.ssec_key_env!r} is not an environment variable name"
        )
    if self.ssec_key_file is not None and not os.path.isabs(self.ssec_key_file):
        raise EncryptionConfigError(
            "ssec_key_file must be an absolute path: workers run in other directories"
        )
    fingerprint = self.ssec_fingerprint
    if not isinstance(fingerprint, str) or len(fingerprint) != 24:
        raise EncryptionConfigError(
            "SSE-C needs ssec_fingerprint=safes3.SSEC(key).fingerprint (the key's base64 MD5, "
            "not secret): each process checks the key it resolves against it"
        )


_LISTING_OPERATIONS = frozenset(
    {
        "ListObjectsV2",
        "ListObjects",
        "ListBuckets",
        "HeadBucket",
        "DeleteObject",
        "DeleteObjects",
        "ListMultipartUploads",
        "AbortMultipartUpload",
    }
)


def _listing_only(model: Any, **_: Any) -> None:
    if model.name not in _LISTING_OPERATIONS:
        raise EncryptionConfigError(
            f"{model.name} needs the SSE-C key, which this process cannot resolve; nothing "
            "was sent. Give this process the key's environment variable or file"
        )


_lock = threading.RLock()
_cache: dict[tuple[int, str, str], Any] = {}


def _shared(options: FSOptions, kind: str, make: Callable[[], Any]) -> Any:
    key = (os.getpid(), json.dumps(asdict(options), sort_keys=True), kind)
    with _lock:
        found = _cache.get(key)
        if found is None:
            found = _cache[key] = make()
        return found


def _where(options: FSOptions) -> str:
    if options.ssec_key_env is not None:
        return f"environment variable {options.ssec_key_env}"
    return f"file {options.ssec_key_file}"


def key_available(options: FSOptions) -> bool:
    if options.ssec_key_env is not None:
        return bool(os.environ.get(options.ssec_key_env))
    return options.ssec_key_file is not None and os.access(options.ssec_key_file, os.R_OK)


def _read_key(options: FSOptions) -> SSEC:
    """The SSE-C key from its reference: base64 text, or 32 raw bytes in a file."""
    if options.ssec_key_env is not None:
        text = os.environ.get(options.ssec_key_env)
        if not text:
            raise EncryptionConfigError(
                f"the SSE-C key is expected in environment variable {options.ssec_key_env} "
                "(base64) of this process, which is unset: nothing was sent. Set it in every "
                "worker's environment"
            )
        return SSEC.from_base64(text.strip())
    assert options.ssec_key_file is not None
    try:
        raw = Path(options.ssec_key_file).read_bytes()
    except OSError as exc:
        raise EncryptionConfigError(
            f"cannot read the SSE-C key file {options.ssec_key_file} in this process "
            f"({exc.strerror}): nothing was sent. Make it readable on every worker"
        ) from None
    if len(raw) == 32:
        return SSEC(raw)
    try:
        return SSEC.from_base64(raw.decode("ascii").strip())
    except (UnicodeDecodeError, EncryptionConfigError):
        raise EncryptionConfigError(
            f"the SSE-C key file {options.ssec_key_file} holds neither 32 raw bytes nor a "
            "base64 key"
        ) from None
