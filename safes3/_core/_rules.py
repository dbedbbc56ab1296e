"""The security rules, as pure functions over parameters, requests and responses.

Which operation needs what is read from the S3 service model once (which
inputs take ``SSECustomerKey``, ``CopySourceSSECustomerKey``,
``ServerSideEncryption``, ``ACL``/``Grant*``), so a new S3 operation is
covered by its shape, not by a hand-kept list.  The response fields that can
prove encryption are the same three for every write (``_ECHOES``).
Nothing here knows about botocore events: :mod:`safes3._core._hooks` wires these
functions to them.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from botocore.model import OperationModel, ServiceModel

from safes3._core._encryption import SSEC, Encryption
from safes3._core._operations import ACL_HEADERS, OPERATIONS, Kind
from safes3._core._profiles import StoreProfile
from safes3._exceptions import (
    ACLRefusedError,
    EncryptionConflictError,
    EncryptionPolicyError,
    InsecureTransportError,
)

__all__ = ["OperationRule", "Policy", "rules_for"]

_CHECKSUM_PARAMS = (
    "ChecksumCRC32",
    "ChecksumCRC32C",
    "ChecksumCRC64NVME",
    "ChecksumSHA1",
    "ChecksumSHA256",
    "ContentMD5",
)
_CHUNK = 1 << 20
_FINISHES_OBJECT = frozenset({"PutObject", "CopyObject", "CompleteMultipartUpload"})
_ECHOES = ("ServerSideEncryption", "SSECustomerKeyMD5", "SSEKMSKeyId")


@dataclass(frozen=True, slots=True)
class OperationRule:
    """What safes3 does for one S3 operation, derived from its shapes."""

    name: str
    refused: bool
    acl_params: tuple[str, ...]
    customer_key: bool
    source_key: bool
    creates_object: bool
    is_write: bool
    body_checksum: bool
    checksum_headers: frozenset[str]


_RULES_CACHE: dict[tuple[str, str], dict[str, OperationRule]] = {}


def rules_for(service_model: ServiceModel) -> dict[str, OperationRule]:
    """One rule per operation of ``service_model`` (cached per API version)."""
    cache_key = (service_model.service_name, service_model.api_version)
    rules = _RULES_CACHE.get(cache_key)
    if rules is None:
        rules = {
            name: _derive(service_model.operation_model(name))
            for name in service_model.operation_names
        }
        _RULES_CACHE[cache_key] = rules
    return rules


def _derive(op: OperationModel) -> OperationRule:
    members = op.input_shape.members if op.input_shape is not None else {}
    acl = tuple(m for m in members if m == "ACL" or m.startswith("Grant"))
    creates = "ServerSideEncryption" in members and "Key" in members
    known = OPERATIONS.get(op.name)
    if known is not None:
        is_write = known.kind is Kind.WRITE
    else:
        shaped = op.http.get("method") in {"PUT", "POST"} and "Key" in members
        is_write = shaped and ("SSECustomerKey" in members or creates)
    return OperationRule(
        name=op.name,
        refused="AccessControlPolicy" in members,
        acl_params=acl,
        customer_key="SSECustomerKey" in members,
        source_key="CopySourceSSECustomerKey" in members,
        creates_object=creates,
        is_write=is_write,
        body_checksum=bool(op.http_checksum.get("requestAlgorithmMember"))
        and op.has_streaming_input,
        checksum_headers=frozenset(
            str(shape.serialization.get("name", name)).lower()
            for name, shape in members.items()
            if name.startswith("Checksum")
            and name not in ("ChecksumAlgorithm", "ChecksumType")
            and shape.serialization.get("location") == "header"
        )
        | {"content-md5"},
    )


class _HeaderCache(dict[str, tuple[tuple[str, str], ...]]):
    """Required headers per operation: SSE-C ones hold the key, so never printed or copied."""

    def __repr__(self) -> str:
        return f"<required headers for {len(self)} operations>"

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError("the policy's header cache holds key material and cannot be copied")


@dataclass(frozen=True, slots=True)
class Policy:
    """The encryption mode and store profile one client enforces."""

    encryption: Encryption
    profile: StoreProfile
    required: dict[str, tuple[tuple[str, str], ...]] = field(
        default_factory=lambda: _HeaderCache(), compare=False, repr=False
    )

    # ---- provide-client-params ----------------------------------------------

    def apply_params(self, rule: OperationRule, params: MutableMapping[str, Any]) -> None:
        """Refuse ACLs, put the policy's encryption on ``params`` (in place)."""
        if rule.refused:
            raise ACLRefusedError(
                f"{rule.name} changes an ACL and is refused by safes3; grant access with "
                "IAM or bucket policies instead (see `safes3 policy`)"
            )
        for name in rule.acl_params:
            if params.get(name) is not None:
                raise ACLRefusedError(
                    f"{rule.name} was given {name}={params[name]!r}; safes3 refuses ACL and "
                    "Grant* parameters (objects stay private to the bucket owner). Remove "
                    "the parameter and grant access with IAM or bucket policies instead"
                )
        enc = self.encryption
        if isinstance(enc, SSEC):
            if rule.creates_object:
                _refuse_sse_params(rule, params, enc)
            if rule.customer_key:
                _put_customer_key(rule, params, enc)
            if rule.source_key:
                _put_source_key(params, enc)
        else:
            if rule.creates_object:
                _put_object_params(rule, params, enc)
            if rule.customer_key and params.get("SSECustomerKey") is not None:
                if rule.is_write:
                    raise EncryptionConflictError(
                        f"{rule.name} was given an SSE-C key, but this client's policy is "
                        f"{enc.mode}; use a client built with encryption=SSEC(key) to write "
                        "SSE-C objects"
                    )
                _normalise_key(params, "SSECustomer")
            if rule.source_key and params.get("CopySourceSSECustomerKey") is not None:
                _normalise_key(params, "CopySourceSSECustomer")
        if rule.body_checksum:
            body = params.get("Body")
            if body is not None and not _rewindable(body) and not _has_checksum(params):
                if not self.profile.trailer_checksums:
                    raise EncryptionPolicyError(
                        f"{rule.name} got a non-seekable Body and the '{self.profile.name}' "
                        "store accepts no trailing checksum; pass bytes or a seekable file, "
                        "or use safes3's upload(), which streams in checksummed parts"
                    )
                params.setdefault("ChecksumAlgorithm", "CRC32")

    # ---- before-call: the final request -------------------------------------

    def check_request(self, rule: OperationRule, request: Mapping[str, Any]) -> None:
        """Re-check the serialised request; add the body checksum header."""
        url: str = request["url"]
        if not url.startswith("https://"):
            raise InsecureTransportError(
                f"{rule.name} would be sent to a non-HTTPS URL; safes3 sends nothing without TLS"
            )
        headers: MutableMapping[str, str] = request["headers"]
        wire: dict[str, str] = {}
        for name, value in headers.items():
            low = name.lower()
            if low.startswith(ACL_HEADERS):
                raise ACLRefusedError(
                    f"{rule.name} carries the ACL header {low!r} (added after safes3's "
                    "checks, e.g. by another event handler); it was not sent"
                )
            wire[low] = value
        for name, value in self.required_headers(rule):
            if wire.get(name) != value:
                raise self.missing_header(rule, name)
        if (
            rule.creates_object
            and isinstance(self.encryption, SSEC)
            and "x-amz-server-side-encryption" in wire
        ):
            raise self.conflict(rule, "x-amz-server-side-encryption")
        if rule.body_checksum:
            _add_body_checksum(
                request,
                has_checksum=not rule.checksum_headers.isdisjoint(wire),
                has_md5="content-md5" in wire,
                headers=headers,
                md5=not self.profile.checksum_headers_verified,
            )

    def missing_header(self, rule: OperationRule, header: str) -> EncryptionPolicyError:
        """The error for a request that lost one of the policy's headers on the way."""
        return EncryptionPolicyError(
            f"{rule.name} reached the wire without the {self.encryption.mode} header "
            f"{header} safes3 put on it (another event handler replaced the parameters "
            "or the headers); it was not sent"
        )

    def conflict(self, rule: OperationRule, header: str) -> EncryptionConflictError:
        """The error for a request carrying another mode's encryption header."""
        return EncryptionConflictError(
            f"{rule.name} carries {header} under this client's {self.encryption.mode} "
            "policy; it was not sent"
        )

    def required_headers(self, rule: OperationRule) -> tuple[tuple[str, str], ...]:
        """The policy's headers ``rule``'s request must carry (cached per operation)."""
        found = self.required.get(rule.name)
        if found is None:
            enc = self.encryption
            pairs: dict[str, str] = {}
            if isinstance(enc, SSEC):
                if rule.customer_key:
                    pairs.update(enc.customer_headers)
            elif rule.creates_object:
                pairs.update(enc.object_headers)
            found = self.required[rule.name] = tuple(pairs.items())
        return found

    # ---- after-call: proof ----------------------------------------------------

    def proof_problem(
        self,
        rule: OperationRule,
        parsed: Mapping[str, Any],
        head: Callable[[], Mapping[str, Any]],
    ) -> str | None:
        """Why the response to a write fails to prove the policy's encryption.

        Intermediate steps (CreateMultipartUpload, UploadPart) are checked only
        for contradictions, since stores differ in what they echo there.  The
        calls that finish an object must prove it; when their response echoes
        nothing at all (SSE-C completions never do), ``head`` fetches the
        stored object's metadata as the proof.
        """
        enc = self.encryption
        required = rule.name in _FINISHES_OBJECT
        problem = enc.proof_problem(parsed, require=required)
        if problem is not None and required and not any(parsed.get(f) for f in _ECHOES):
            problem = enc.proof_problem(head(), require=True)
        return problem


def _refuse_sse_params(rule: OperationRule, params: Mapping[str, Any], enc: Encryption) -> None:
    for name in ("ServerSideEncryption", "SSEKMSKeyId", "SSEKMSEncryptionContext"):
        if params.get(name) is not None:
            raise EncryptionConflictError(
                f"{rule.name} was given {name}, but this client's policy is {enc.mode}; "
                "drop the parameter (safes3 adds the policy's encryption itself)"
            )


def _put_object_params(
    rule: OperationRule, params: MutableMapping[str, Any], enc: Encryption
) -> None:
    for name, value in enc.object_params.items():
        given = params.get(name)
        if given is not None and given != value:
            raise EncryptionConflictError(
                f"{rule.name} was given {name}={given!r}, which contradicts this client's "
                f"policy {enc!r}; drop the parameter or build a client with the mode you need"
            )
        params[name] = value


def _put_customer_key(rule: OperationRule, params: MutableMapping[str, Any], enc: SSEC) -> None:
    given = params.get("SSECustomerKey")
    if given is not None and not enc.same_key(given):
        raise EncryptionConflictError(
            f"{rule.name} was given an SSE-C key other than this client's "
            f"({enc!r}); one client writes and reads with one key"
        )
    algorithm = params.get("SSECustomerAlgorithm")
    if algorithm is not None and algorithm != "AES256":
        raise EncryptionConflictError(
            f"{rule.name} was given SSECustomerAlgorithm={algorithm!r}; SSE-C uses AES256"
        )
    params.update(enc.customer_params)


def _put_source_key(params: MutableMapping[str, Any], enc: SSEC) -> None:
    if params.get("CopySourceSSECustomerKey") is None:
        params.update(enc.source_params)
    else:
        _normalise_key(params, "CopySourceSSECustomer")


def _normalise_key(params: MutableMapping[str, Any], prefix: str) -> None:
    """Turn a caller's raw key into the (algorithm, base64 key, MD5) triple."""
    value = params[prefix + "Key"]
    key = SSEC(value) if isinstance(value, bytes | bytearray) else SSEC.from_base64(value)
    triple = key.source_params if prefix.startswith("CopySource") else key.customer_params
    params.update(triple)


def _has_checksum(params: Mapping[str, Any]) -> bool:
    return any(params.get(n) is not None for n in (*_CHECKSUM_PARAMS, "ChecksumAlgorithm"))


def _rewindable(body: object) -> bool:
    if isinstance(body, bytes | bytearray | str | memoryview):
        return True
    seekable = getattr(body, "seekable", None)
    if seekable is not None:
        return bool(seekable())
    return hasattr(body, "seek") and hasattr(body, "tell")


def _body_chunks(body: Any) -> Iterator[Any]:
    """The body's bytes in pieces; a stream is rewound to where it was."""
    if isinstance(body, str):
        yield body.encode()
    elif isinstance(body, bytes | bytearray | memoryview):
        yield body
    else:
        start = body.tell()
        while chunk := body.read(_CHUNK):
            yield chunk
        body.seek(start)


def _add_body_checksum(
    request: Mapping[str, Any],
    *,
    has_checksum: bool,
    has_md5: bool,
    headers: MutableMapping[str, str],
    md5: bool,
) -> None:
    """A checksum of the body as a header: integrity without the aws-chunked trailer.

    CRC32 costs almost nothing; on stores that ignore ``x-amz-checksum-*``
    headers (``checksum_headers_verified=False``) Content-MD5 is added too,
    since it is the only digest such a store checks.
    """
    if request["context"].get("checksum", {}).get("request_algorithm"):
        return
    want_crc = not has_checksum
    want_md5 = md5 and not has_md5
    body = request.get("body")
    if body is None or not (want_crc or want_md5):
        return
    crc, digest = 0, hashlib.md5() if want_md5 else None  # noqa: S324
    for chunk in _body_chunks(body):
        if want_crc:
            crc = zlib.crc32(chunk, crc)
        if digest is not None:
            digest.update(chunk)
    if want_crc:
        headers["x-amz-checksum-crc32"] = base64.b64encode(crc.to_bytes(4, "big")).decode()
    if digest is not None:
        headers["Content-MD5"] = base64.b64encode(digest.digest()).decode()
