"""The engine's check of a finished upload, and the removal of a version that fails it.

On a versioned bucket the read-back and the removal name the write's own
VersionId: by key alone the read-back could see another writer's newer
version, and a delete would only add a delete marker in front of the bad
version (or in front of the other writer's).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from safes3._exceptions import IntegrityError
from safes3._transfer import _checksum as ck
from safes3._transfer._retry import describe

__all__ = ["StoredObject", "verify_stored"]


@dataclass(frozen=True)
class StoredObject:
    """What one write stored: where, and the version id its response gave (if any)."""

    s3: Any
    bucket: str
    key: str
    version_id: str | None
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Parameters every call about the object carries (ExpectedBucketOwner, RequestPayer)."""

    @property
    def pinned(self) -> dict[str, Any]:
        version = {"VersionId": self.version_id} if self.version_id else {}
        return {**self.extra, **version}

    def remove(self) -> str:
        """Delete it (its version when known); what happened, as text for the error."""
        try:
            reply = self.s3.delete_object(Bucket=self.bucket, Key=self.key, **self.pinned)
        except (BotoCoreError, ClientError) as exc:
            return f"deleting it FAILED ({describe(exc)}): delete it by hand"
        if not self.version_id and reply.get("DeleteMarker"):
            return (
                "the store returned no version id, so only a delete marker was added: the "
                "unverified version is still in the bucket, delete it by hand"
            )
        version = f" (version {self.version_id})" if self.version_id else ""
        return "the object was deleted" + version


def verify_stored(
    stored: StoredObject,
    retried: Callable[[Callable[[], Any]], Any],
    algo: Any,
    *,
    size: int,
    full: int,
    composite: str | None,
) -> None:
    """HeadObject of the stored version: its length, and the store's checksum when it keeps one.

    A version that cannot be read back, or does not match, is removed and
    :class:`IntegrityError` raised.  ``retried(call)`` runs ``call`` with the
    transfer's retry policy.
    """
    where = f"s3://{stored.bucket}/{stored.key}"
    try:
        head = retried(
            lambda: stored.s3.head_object(
                Bucket=stored.bucket, Key=stored.key, ChecksumMode="ENABLED", **stored.pinned
            )
        )
    except (BotoCoreError, ClientError) as exc:
        raise IntegrityError(
            f"{where} was written but could not be read back to verify it: "
            f"{describe(exc)}; {stored.remove()}"
        ) from exc
    problem = None
    value = head.get(algo.param)
    name = algo.name
    if head.get("ContentLength") != size:
        problem = f"the store holds {head.get('ContentLength')} bytes, {size} were sent"
    elif value and "-" in value and composite is not None and value != composite:
        problem = f"the store's composite {name} is {value}, expected {composite}"
    elif value and "-" not in value and value != ck.b64(full):
        problem = f"the store's {name} is {value}, expected {ck.b64(full)}"
    if problem is not None:
        raise IntegrityError(f"{where}: {problem}; {stored.remove()}")
