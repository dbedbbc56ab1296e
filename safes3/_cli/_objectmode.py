"""How one object is stored (plaintext, SSE-S3, SSE-KMS, SSE-C), told apart by evidence.

Used by ``audit`` and ``rekey --encrypt``, whose answers must not depend on
the caller's write policy: a client under an SSE-C policy adds the key to
every HeadObject, and AWS answers a HeadObject carrying SSE-C headers of an
object that is *not* SSE-C with 400, the same status it gives an SSE-C
object read without its key.  So the object is read here through a client
that adds no encryption parameters to reads, and a 400 counts as SSE-C only
with evidence that the object is SSE-C:

* the 400 carries the ``x-amz-server-side-encryption-customer-algorithm``
  header (SeaweedFS sends it);
* or a HeadObject with the caller's SSE-C key answers with that key's MD5;
* or a one-byte ranged GetObject without a key is refused with an S3 error
  saying the object needs server-side-encryption parameters (AWS, Ceph RGW
  and SeaweedFS all say so in the error message).

Anything else is ``unknown``: reported as such, never as encrypted.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import ClientError

from safes3._core._encryption import SSEC

__all__ = ["MODES", "Classified", "Mode", "classify"]

Mode = Literal["none", "SSE-S3", "SSE-KMS", "SSE-C", "unknown"]
MODES: dict[str, Mode] = {"aws:kms": "SSE-KMS", "aws:kms:dsse": "SSE-KMS", "AES256": "SSE-S3"}
_ALGORITHM_HEADER = "x-amz-server-side-encryption-customer-algorithm"


@dataclass(frozen=True)
class Classified:
    """The object's mode and the evidence it was told by."""

    mode: Mode
    evidence: str


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def _needs_sse_params(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    message = str(error.get("Message") or "").lower().replace("-", " ")
    return (
        _status(exc) == 400
        and error.get("Code") in {"InvalidRequest", "InvalidArgument"}
        and "server side encryption" in message
    )


def classify(
    read: Any, bucket: str, key: str, ssec: SSEC | None = None, version_id: str | None = None
) -> Classified:
    """The storage mode of ``s3://bucket/key``.

    ``read(method, **params)`` calls a client whose policy adds no
    encryption parameters to reads.  ``ssec`` is the caller's SSE-C key, if
    any: it is only used as evidence.  ``version_id`` names one version of
    the object.  Errors other than the 400 discussed above propagate.
    """
    if version_id and version_id != "null":
        read = functools.partial(read, VersionId=version_id)
    try:
        head = read("head_object", Bucket=bucket, Key=key)
    except ClientError as exc:
        if _status(exc) != 400:
            raise
        headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        if headers.get(_ALGORITHM_HEADER):
            return Classified("SSE-C", f"HeadObject 400 with the {_ALGORITHM_HEADER} header")
        return _after_400(read, bucket, key, ssec)
    if head.get("SSECustomerAlgorithm"):
        return Classified("SSE-C", "HeadObject echoes the SSE-C algorithm")
    sse = str(head.get("ServerSideEncryption") or "")
    mode = MODES.get(sse, "none" if not sse else "unknown")
    return Classified(mode, f"HeadObject x-amz-server-side-encryption: {sse or 'absent'}")


def _after_400(read: Any, bucket: str, key: str, ssec: SSEC | None) -> Classified:
    if ssec is not None:
        try:
            head = read("head_object", Bucket=bucket, Key=key, **ssec.customer_params)
        except ClientError:
            pass
        else:
            if ssec.proof_problem(head, require=True) is None:
                return Classified("SSE-C", "HeadObject with the given SSE-C key echoes its MD5")
    try:
        got = read("get_object", Bucket=bucket, Key=key, Range="bytes=0-0")
    except ClientError as exc:
        if _needs_sse_params(exc):
            code = exc.response.get("Error", {}).get("Code")
            return Classified("SSE-C", f"GetObject without a key refused: {code}, needs SSE-C")
        return Classified("unknown", f"HeadObject 400; GetObject HTTP {_status(exc)}")
    got["Body"].close()
    return Classified("unknown", "HeadObject 400 without SSE-C evidence; GetObject succeeded")
