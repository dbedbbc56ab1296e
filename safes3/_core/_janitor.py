"""What the proof of encryption needs from the store: a read-back, and a cleanup.

When a write's response proves nothing, its stored object is read back with
HeadObject; when the proof fails, what the write left is removed.  Both use
the VersionId the write returned, so that on a versioned bucket the
read-back looks at this write's version and the cleanup removes that version
(not just the key, which would leave the bad version behind a delete
marker; a delete that only added a marker is reported as not cleaned up).
The janitor owns its own guarded client, made on first use.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

__all__ = ["Janitor"]

_MULTIPART = frozenset({"CreateMultipartUpload", "UploadPart", "UploadPartCopy"})


class Janitor:
    """Reads back and removes what a write stored, through a client of the same policy."""

    def __init__(self, make_client: Callable[[], Any]) -> None:
        self._make_client = make_client
        self._client: Any = None
        self._lock = threading.Lock()

    def _s3(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._make_client()
        return self._client

    def head(self, stash: Mapping[str, Any], parsed: Mapping[str, Any]) -> dict[str, Any]:
        """HeadObject of the version a write just stored (its response is the proof)."""
        extra = {"VersionId": parsed["VersionId"]} if parsed.get("VersionId") else {}
        try:
            found: dict[str, Any] = self._s3().head_object(
                Bucket=stash.get("Bucket"), Key=stash.get("Key"), **extra
            )
        except (BotoCoreError, ClientError):
            return {}
        return found

    def remove(self, operation: str, stash: Mapping[str, Any], parsed: Mapping[str, Any]) -> bool:
        """Delete the version, or abort the upload, that an unproven write left."""
        bucket, key = stash.get("Bucket"), stash.get("Key")
        upload_id = stash.get("UploadId") or parsed.get("UploadId")
        try:
            if operation in _MULTIPART:
                self._s3().abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            else:
                extra = {"VersionId": parsed["VersionId"]} if parsed.get("VersionId") else {}
                answer = self._s3().delete_object(Bucket=bucket, Key=key, **extra)
                if answer.get("DeleteMarker") and not extra:
                    return False
        except (BotoCoreError, ClientError):
            return False
        return True
