"""The encryption modes the offline tests run under, with what each must produce.

The expected parameters and headers are written out here from S3's
documented names, not read from the ``Encryption`` objects, so a mistake in
those objects shows up as a difference instead of being copied into the
expectation.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import safes3

__all__ = ["KEY", "MODES", "OTHER_KEY", "Mode", "md5_of"]

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
KMS_KEY = "key-1"


def md5_of(key: bytes) -> str:
    """The base64 MD5 of an SSE-C key, as S3 expects and echoes it."""
    return base64.b64encode(hashlib.md5(key).digest()).decode()  # noqa: S324


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(frozen=True)
class Mode:
    """One encryption policy and the values it must put on requests."""

    name: str
    encryption: safes3.Encryption
    object_params: Mapping[str, object] = field(default_factory=dict)
    object_headers: Mapping[str, str] = field(default_factory=dict)
    customer_params: Mapping[str, str] = field(default_factory=dict)
    customer_headers: Mapping[str, str] = field(default_factory=dict)
    echo: Mapping[str, str] = field(default_factory=dict)
    """Response headers that prove this mode (what a store echoes on a write)."""
    proves: Mapping[str, str] = field(default_factory=dict)
    """The parsed response fields that prove this mode."""
    contradictions: tuple[Mapping[str, str], ...] = ()
    """Parsed response fields in which this mode's own fields name something else."""
    foreign: tuple[Mapping[str, str], ...] = ()
    """Parsed response fields of another mode only (this mode's fields absent)."""

    @property
    def ssec(self) -> bool:
        return isinstance(self.encryption, safes3.SSEC)

    @property
    def source_params(self) -> dict[str, str]:
        return {f"CopySource{k}": v for k, v in self.customer_params.items()}

    @property
    def source_headers(self) -> dict[str, str]:
        return {
            name.replace("x-amz-", "x-amz-copy-source-", 1): value
            for name, value in self.customer_headers.items()
        }

    def __str__(self) -> str:
        return self.name


_SSE = "x-amz-server-side-encryption"
_KMS_PARAMS = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": KMS_KEY}
_KMS_HEADERS = {_SSE: "aws:kms", f"{_SSE}-aws-kms-key-id": KMS_KEY}
_KMS_PROVES = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": KMS_KEY}
_KMS_CONTRADICTS = (
    {"ServerSideEncryption": "AES256"},
    {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "another-key"},
)
_CONTEXT = _b64(b'{"team":"red"}')


def _kms(
    name: str, encryption: safes3.SSEKMS, params: dict[str, object], headers: dict[str, str]
) -> Mode:
    return Mode(
        name,
        encryption,
        object_params={**_KMS_PARAMS, **params},
        object_headers={**_KMS_HEADERS, **headers},
        echo=_KMS_HEADERS,
        proves=_KMS_PROVES,
        contradictions=_KMS_CONTRADICTS,
        foreign=({"SSECustomerKeyMD5": md5_of(KEY)},),
    )


MODES: tuple[Mode, ...] = (
    _kms("sse-kms", safes3.SSEKMS(KMS_KEY), {}, {}),
    _kms(
        "sse-kms-context-bucket-key",
        safes3.SSEKMS(KMS_KEY, context={"team": "red"}, bucket_key=True),
        {"SSEKMSEncryptionContext": _CONTEXT, "BucketKeyEnabled": True},
        {f"{_SSE}-context": _CONTEXT, f"{_SSE}-bucket-key-enabled": "true"},
    ),
    _kms(
        "sse-kms-bucket-key-off",
        safes3.SSEKMS(KMS_KEY, bucket_key=False),
        {"BucketKeyEnabled": False},
        {f"{_SSE}-bucket-key-enabled": "false"},
    ),
    Mode(
        "sse-s3",
        safes3.SSES3(),
        object_params={"ServerSideEncryption": "AES256"},
        object_headers={_SSE: "AES256"},
        echo={_SSE: "AES256"},
        proves={"ServerSideEncryption": "AES256"},
        contradictions=({"ServerSideEncryption": "aws:kms"},),
        foreign=({"SSECustomerKeyMD5": md5_of(KEY)},),
    ),
    Mode(
        "sse-c",
        safes3.SSEC(KEY),
        customer_params={
            "SSECustomerAlgorithm": "AES256",
            "SSECustomerKey": _b64(KEY),
            "SSECustomerKeyMD5": md5_of(KEY),
        },
        customer_headers={
            f"{_SSE}-customer-algorithm": "AES256",
            f"{_SSE}-customer-key": _b64(KEY),
            f"{_SSE}-customer-key-md5": md5_of(KEY),
        },
        echo={f"{_SSE}-customer-algorithm": "AES256", f"{_SSE}-customer-key-md5": md5_of(KEY)},
        proves={"SSECustomerAlgorithm": "AES256", "SSECustomerKeyMD5": md5_of(KEY)},
        contradictions=({"SSECustomerKeyMD5": md5_of(OTHER_KEY)},),
        foreign=({"ServerSideEncryption": "AES256"}, {"ServerSideEncryption": "aws:kms"}),
    ),
)
