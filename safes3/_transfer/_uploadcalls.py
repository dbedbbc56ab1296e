"""The store calls of an upload, each with the transfer's retry policy.

Each takes the :class:`~safes3._transfer._uploadplan.Target` (bucket, key, client,
the arguments every call carries, the statistics) and leaves failures in the
form :mod:`safes3._transfer._uploadpolicy` expects: a part or completion that failed
for good is a :class:`~safes3._transfer._uploadpolicy.StoreFailure`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from safes3._boundary import describe
from safes3._exceptions import SafeS3Error, TransferError
from safes3._transfer import _checksum as ck
from safes3._transfer._journal import DonePart
from safes3._transfer._parts import PartBody
from safes3._transfer._retry import RetryableError, run
from safes3._transfer._stats import resent_inside
from safes3._transfer._uploadplan import Plan, Target
from safes3._transfer._uploadpolicy import StoreFailure

__all__ = ["abort", "complete", "put_single", "send_part"]


class _Counted:
    """A store call that counts its attempts, for the message when it fails for good."""

    def __init__(self, call: Callable[[], dict[str, Any]]) -> None:
        self.call = call
        self.attempts = 0

    def __call__(self) -> dict[str, Any]:
        self.attempts += 1
        return self.call()


def put_single(t: Target, algo: ck.Algorithm, body: bytearray, crc: int) -> dict[str, Any]:
    """One PutObject of the whole ``body``; its retries counted in ``t.stats``."""
    params = {algo.param: ck.b64(crc), **t.extra}
    put = _Counted(
        lambda: t.s3.put_object(
            Bucket=t.bucket, Key=t.key, Body=PartBody(memoryview(body)), **params
        )
    )
    try:
        reply = t.call(put, len(body))
    except SafeS3Error:
        raise
    except (BotoCoreError, ClientError) as exc:
        raise TransferError(
            f"PutObject of {t.where} failed after {put.attempts} attempt(s): {describe(exc)}"
        ) from exc
    t.stats.retried(resent_inside(reply), len(body))
    return reply


def send_part(t: Target, p: Plan, number: int, view: memoryview, crc: int) -> tuple[DonePart, int]:
    """Runs in a worker: one part whose ``crc`` was computed as it was read; its extra sends."""
    expected, param = ck.b64(crc), p.algo.param
    params = {"Bucket": t.bucket, "Key": t.key, "UploadId": p.upload_id, "PartNumber": number}

    def send_once() -> dict[str, Any]:
        reply: dict[str, Any] = t.s3.upload_part(
            Body=PartBody(view), **params, **{param: expected}, **t.every
        )
        echoed = reply.get(param)
        if echoed is not None and echoed != expected:
            raise RetryableError(f"part {number}: store computed {echoed}")
        return reply

    send = _Counted(send_once)
    try:
        reply = run(t.settings, send, lambda *_: None)
    except SafeS3Error:
        raise
    except Exception as exc:
        raise StoreFailure(
            f"part {number} failed after {send.attempts} attempt(s): {describe(exc)}"
        ) from exc
    part = DonePart(number=number, size=len(view), etag=reply["ETag"], crc=crc)
    return part, send.attempts - 1 + resent_inside(reply)


def complete(t: Target, p: Plan, parts: list[dict[str, Any]]) -> dict[str, Any]:
    """CompleteMultipartUpload of ``parts`` (in order)."""
    try:
        reply: dict[str, Any] = t.call(
            lambda: t.s3.complete_multipart_upload(
                Bucket=t.bucket,
                Key=t.key,
                UploadId=p.upload_id,
                MultipartUpload={"Parts": parts},
                **t.every,
            )
        )
    except SafeS3Error:
        raise
    except (BotoCoreError, ClientError) as exc:
        raise StoreFailure(f"CompleteMultipartUpload failed: {describe(exc)}") from exc
    return reply


def abort(t: Target, upload_id: str) -> bool:
    """AbortMultipartUpload; whether it worked."""
    try:
        run(
            t.settings,
            lambda: t.s3.abort_multipart_upload(
                Bucket=t.bucket, Key=t.key, UploadId=upload_id, **t.every
            ),
            lambda *_: None,
        )
    except (BotoCoreError, ClientError):
        return False
    return True
