"""Encryption modes as small immutable values.

Each mode validates itself and precomputes, once, everything it contributes
to a request (parameter values, header values, the SSE-C key's base64 form
and MD5), so the per-request hooks only copy prepared values.  The key of an
:class:`SSEC` never appears in its ``repr``/``str`` and cannot be pickled.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar, NoReturn

from safes3._exceptions import EncryptionConfigError
from safes3._redact import register_secret
from safes3._secret import NoCopy, SecretMapping

__all__ = ["SSEC", "SSEKMS", "SSES3", "Encryption"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_KMS_ID = re.compile(
    r"^(arn:aws[a-z-]*:kms:[a-z0-9-]*:\d*:(key|alias)/[A-Za-z0-9/_+=,.@-]+"
    r"|alias/[A-Za-z0-9/_-]+|[A-Za-z0-9/_+=,.@:-]{1,2048})$"
)


class Encryption:
    """Base of the three modes; not meant to be built directly.

    ``object_params`` go on the operations that create an object
    (PutObject, CopyObject, CreateMultipartUpload); ``customer_params`` on
    every operation whose input takes ``SSECustomerKey``; ``source_params`` on
    those taking ``CopySourceSSECustomerKey``.  ``*_headers`` are the same
    values as they must appear on the wire, checked just before sending.
    """

    __slots__ = (
        "customer_headers",
        "customer_params",
        "object_headers",
        "object_params",
        "source_headers",
        "source_params",
    )
    mode: ClassVar[str] = ""
    object_params: Mapping[str, Any]
    object_headers: Mapping[str, str]
    customer_params: Mapping[str, str]
    customer_headers: Mapping[str, str]
    source_params: Mapping[str, str]
    source_headers: Mapping[str, str]

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _set(self, **values: object) -> None:
        for name in Encryption.__slots__:
            if name not in values:
                object.__setattr__(self, name, _EMPTY)
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def proof_problem(self, parsed: Mapping[str, Any], *, require: bool) -> str | None:
        """Why ``parsed`` (a response) fails to show this encryption, or None."""
        raise NotImplementedError


class SSES3(Encryption):
    """Server-side encryption with keys the store manages (``AES256``)."""

    __slots__ = ()
    mode = "SSE-S3"

    def __init__(self) -> None:
        self._set(
            object_params=MappingProxyType({"ServerSideEncryption": "AES256"}),
            object_headers=MappingProxyType({"x-amz-server-side-encryption": "AES256"}),
        )

    def __repr__(self) -> str:
        return "SSES3()"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SSES3)

    def __hash__(self) -> int:
        return hash(SSES3)

    def __reduce__(self) -> tuple[Any, ...]:
        return (SSES3, ())

    def proof_problem(self, parsed: Mapping[str, Any], *, require: bool) -> str | None:
        got = parsed.get("ServerSideEncryption")
        if got == "AES256" or (got is None and not require):
            return None
        return f"expected ServerSideEncryption 'AES256' in the response, got {got!r}"


class SSEKMS(Encryption):
    """Server-side encryption with a KMS key.

    ``key_id`` is a key id, key ARN or alias; prefer the full key ARN: an
    alias resolves in the caller's account and cannot be matched against the
    key the server reports.  ``context`` is the KMS encryption context
    (string pairs); ``bucket_key`` sets ``BucketKeyEnabled`` when not None.
    """

    __slots__ = ("bucket_key", "context", "key_id")
    mode = "SSE-KMS"

    key_id: str
    context: Mapping[str, str] | None
    bucket_key: bool | None

    def __init__(
        self,
        key_id: str,
        *,
        context: Mapping[str, str] | None = None,
        bucket_key: bool | None = None,
    ) -> None:
        if not isinstance(key_id, str) or not _KMS_ID.match(key_id):
            raise EncryptionConfigError(
                f"SSEKMS needs a KMS key id, key ARN or alias, got {key_id!r}; "
                "pass e.g. 'arn:aws:kms:REGION:ACCOUNT:key/KEY-ID'"
            )
        params: dict[str, Any] = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_id}
        headers = {
            "x-amz-server-side-encryption": "aws:kms",
            "x-amz-server-side-encryption-aws-kms-key-id": key_id,
        }
        frozen_context = None
        if context is not None:
            if not context or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in context.items()
            ):
                raise EncryptionConfigError(
                    "SSEKMS context must be a non-empty mapping of strings to strings"
                )
            frozen_context = MappingProxyType(dict(context))
            encoded = base64.b64encode(
                json.dumps(dict(context), sort_keys=True, separators=(",", ":")).encode()
            ).decode()
            params["SSEKMSEncryptionContext"] = encoded
            headers["x-amz-server-side-encryption-context"] = encoded
        if bucket_key is not None:
            params["BucketKeyEnabled"] = bool(bucket_key)
            headers["x-amz-server-side-encryption-bucket-key-enabled"] = str(bucket_key).lower()
        self._set(
            key_id=key_id,
            context=frozen_context,
            bucket_key=bucket_key,
            object_params=MappingProxyType(params),
            object_headers=MappingProxyType(headers),
        )

    def __repr__(self) -> str:
        extra = ""
        if self.context is not None:
            extra += f", context={dict(self.context)!r}"
        if self.bucket_key is not None:
            extra += f", bucket_key={self.bucket_key!r}"
        return f"SSEKMS({self.key_id!r}{extra})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SSEKMS) and self.object_params == other.object_params

    def __hash__(self) -> int:
        return hash((SSEKMS, self.key_id))

    def __reduce__(self) -> tuple[Any, ...]:
        context = dict(self.context) if self.context is not None else None
        return (_kms, (self.key_id, context, self.bucket_key))

    def matches_key(self, reported: str | None) -> bool:
        """Whether the key id a server reported is this one (id, ARN or alias)."""
        if reported is None:
            return False
        mine = self.key_id
        if reported == mine or reported.endswith(f":key/{mine}") or mine.endswith(f"/{reported}"):
            return True
        return mine.startswith("alias/") or ":alias/" in mine

    def proof_problem(self, parsed: Mapping[str, Any], *, require: bool) -> str | None:
        got = parsed.get("ServerSideEncryption")
        if got is None and not require:
            return None
        if got != "aws:kms":
            return f"expected ServerSideEncryption 'aws:kms' in the response, got {got!r}"
        key = parsed.get("SSEKMSKeyId")
        if key is None and not require:
            return None
        if not self.matches_key(key):
            return f"the response names KMS key {key!r}, not {self.key_id!r}"
        return None


def _kms(key_id: str, context: Mapping[str, str] | None, bucket_key: bool | None) -> SSEKMS:
    return SSEKMS(key_id, context=context, bucket_key=bucket_key)


class SSEC(NoCopy, Encryption):
    """Server-side encryption with a 256-bit key the client holds (SSE-C).

    The key is validated and its base64 form and MD5 are computed here, once.
    ``fingerprint`` (the key's base64 MD5, which S3 itself echoes) identifies
    the key in logs and journals; the key never appears in ``repr``/``str``.
    """

    __slots__ = ("_key_b64", "key_md5")
    mode = "SSE-C"

    key_md5: str
    _key_b64: str

    def __init__(self, key: bytes | bytearray | memoryview) -> None:
        if not isinstance(key, bytes | bytearray | memoryview):
            raise EncryptionConfigError(
                f"SSEC takes the key as 32 raw bytes, not {type(key).__name__}; "
                "use SSEC.from_base64() for a base64 string"
            )
        raw = bytes(key)
        if len(raw) != 32:
            raise EncryptionConfigError(
                f"SSE-C keys are 256-bit: got {len(raw)} bytes, need exactly 32 "
                "(make one with SSEC.generate() or os.urandom(32))"
            )
        key_b64 = base64.b64encode(raw).decode()
        key_md5 = base64.b64encode(hashlib.md5(raw).digest()).decode()  # noqa: S324
        register_secret(key_b64)
        register_secret(repr(raw)[2:-1])
        customer = {
            "SSECustomerAlgorithm": "AES256",
            "SSECustomerKey": key_b64,
            "SSECustomerKeyMD5": key_md5,
        }
        headers = {
            "x-amz-server-side-encryption-customer-algorithm": "AES256",
            "x-amz-server-side-encryption-customer-key": key_b64,
            "x-amz-server-side-encryption-customer-key-md5": key_md5,
        }
        self._set(
            key_md5=key_md5,
            _key_b64=key_b64,
            customer_params=_secret(customer),
            customer_headers=_secret(headers),
            source_params=_secret({f"CopySource{k}": v for k, v in customer.items()}),
            source_headers=_secret({f"x-amz-copy-source-{k[6:]}": v for k, v in headers.items()}),
        )

    @classmethod
    def generate(cls) -> SSEC:
        """A new random key from the operating system's CSPRNG."""
        return cls(os.urandom(32))

    @classmethod
    def from_base64(cls, text: str) -> SSEC:
        """A key given as base64 text (as S3 sends it in headers)."""
        try:
            raw = base64.b64decode(text, validate=True)
        except (ValueError, TypeError) as exc:
            raise EncryptionConfigError("SSE-C key text is not valid base64") from exc
        return cls(raw)

    @property
    def fingerprint(self) -> str:
        return self.key_md5

    def same_key(self, value: object) -> bool:
        """Whether a caller-supplied key (raw bytes or base64 text) is this key."""
        if isinstance(value, bytes | bytearray):
            raw = bytes(value)
            candidate = (
                base64.b64encode(raw).decode() if len(raw) == 32 else raw.decode("ascii", "replace")
            )
        elif isinstance(value, str):
            candidate = value
        else:
            return False
        return hmac.compare_digest(candidate.encode(), self._key_b64.encode())

    def __repr__(self) -> str:
        return f"SSEC(fingerprint={self.key_md5!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SSEC) and hmac.compare_digest(self._key_b64, other._key_b64)

    def __hash__(self) -> int:
        return hash((SSEC, self.key_md5))

    def proof_problem(self, parsed: Mapping[str, Any], *, require: bool) -> str | None:
        got = parsed.get("SSECustomerKeyMD5")
        if got is None and not require:
            return None
        if got is None or self.key_md5 not in {part.strip() for part in str(got).split(",")}:
            return (
                "the response does not confirm the SSE-C key "
                f"(expected key MD5 {self.key_md5!r}, got {got!r})"
            )
        return None


def _secret(items: Mapping[str, str]) -> SecretMapping:
    return SecretMapping(items, secret=frozenset(k for k in items if k.lower().endswith("key")))
