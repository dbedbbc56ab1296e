"""Re-encrypt the objects under a prefix: rotate an SSE-C key, or encrypt plaintext.

Each object is rewritten *in place* (same bucket and key), never through a
temporary key: by server-side CopyObject where the store can copy with SSE
headers (profile ``copy_with_sse``), otherwise by streaming GetObject into a
new upload through the transfer engine.  Both PutObject/CopyObject and
CompleteMultipartUpload replace an object atomically, so at every moment a
reader sees either the old object (readable with the old key, or plaintext
awaiting encryption) or the new one (readable with the new key); never a
half-written or unencrypted copy.  A reader that does not know which key an
object has tries the new key, then the old one, or consults the state file.

The state file (JSON lines) records the bucket, prefix, the key
*fingerprints* (never key material) and every finished object key, flushed
and fsynced after each object, so a run that is killed resumes where it
stopped; a last line torn by a crash is ignored.  An object finished but not
yet recorded is recognised on resume by a HeadObject with the new key.

With ``--encrypt`` the objects are read through a client that adds no
encryption parameters (see :mod:`safes3._cli._objectmode`): an object counts as
already encrypted only on evidence, one whose mode cannot be told is
reported as failed, and every rewritten object is proven to carry the new
encryption by a HeadObject before it is recorded as done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from safes3._cli._objectmode import Classified, classify
from safes3._core._encryption import SSEC, Encryption
from safes3._core._profiles import StoreProfile
from safes3._exceptions import ConfigurationError, SafeS3Error
from safes3._transfer import _jsonlines as jsonlines
from safes3._transfer._upload import upload

__all__ = ["RekeyResult", "StateFile", "rekey"]

_KEEP = (
    "ContentType",
    "ContentEncoding",
    "ContentDisposition",
    "ContentLanguage",
    "CacheControl",
    "Metadata",
)


def _label(enc: Encryption | None) -> str:
    if enc is None:
        return "none"
    if isinstance(enc, SSEC):
        return f"SSE-C:{enc.fingerprint}"
    return repr(enc)


class StateFile:
    """Which objects of one rekey job are finished; holds no secrets."""

    def __init__(self, path: Path, header: dict[str, str]) -> None:
        self.path = path
        self.done: set[str] = set()
        if path.exists():
            lines = _entries(path)
            if lines and lines[0] != header:
                raise ConfigurationError(
                    f"state file {path} belongs to another rekey job ({lines[0]}); "
                    "use another --state file or delete it"
                )
            self.done = {entry["done"] for entry in lines[1:] if "done" in entry}
            if lines:
                return
        self._append(header)

    def record(self, key: str) -> None:
        self._append({"done": key})
        self.done.add(key)

    def _append(self, entry: dict[str, str]) -> None:
        jsonlines.append(self.path, entry, create=True)


def _entries(path: Path) -> list[dict[str, str]]:
    """The state file's entries; a torn last line (a crash mid-write) is dropped and cut off."""
    entries: list[dict[str, str]] = jsonlines.read_state(path)
    return entries


@dataclass
class RekeyResult:
    """Keys done, skipped and failed (with why); versions replaced but kept or purged."""

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    kept_versions: dict[str, str] = field(default_factory=dict)
    purged_versions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Rekeyer:
    """The clients and settings of one rekey job.

    ``writer`` carries the new encryption; ``reader`` reads the objects as
    they are now (an SSE-C client with the old key, or any non-SSE-C client
    for plaintext objects); ``old`` is the old SSE-C key, or None when the
    objects are unencrypted.
    """

    writer: Any
    reader: Any
    new: Encryption
    old: SSEC | None
    profile: StoreProfile

    def header(self, bucket: str, prefix: str) -> dict[str, str]:
        return {
            "bucket": bucket,
            "prefix": prefix,
            "old": _label(self.old),
            "new": _label(self.new),
        }

    def objects(self, bucket: str, prefix: str) -> Iterator[tuple[str, int]]:
        for page in self.writer.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix
        ):
            for obj in page.get("Contents", []):
                yield obj["Key"], int(obj.get("Size", 0))

    def mode(self, bucket: str, key: str) -> Classified:
        """How the object is stored now, told by evidence (``reader`` sends no SSE-C key)."""

        def read(method: str, **params: Any) -> Any:
            return getattr(self.reader, method)(**params)

        return classify(read, bucket, key, self.new if isinstance(self.new, SSEC) else None)

    def already_new(self, bucket: str, key: str, version_id: str | None = None) -> bool:
        """Whether the object (or the given version of it) carries the new encryption."""
        pinned = {"VersionId": version_id} if version_id else {}
        try:
            head = self.writer.head_object(Bucket=bucket, Key=key, **pinned)
        except ClientError:
            return False
        return self.new.proof_problem(head, require=True) is None

    def rewrite(self, bucket: str, key: str, size: int) -> tuple[str | None, str | None]:
        """Rewrite the object; the version ids of the new object and of the one it replaced.

        The source is pinned to the version read first, so a concurrent
        overwrite is not what gets re-encrypted under the old one's name.
        """
        if self.profile.copy_with_sse and not (self.old is None and isinstance(self.new, SSEC)):
            head = self.reader.head_object(Bucket=bucket, Key=key)
            old_version = head.get("VersionId")
            extra: dict[str, Any] = {k: head[k] for k in _KEEP if head.get(k)}
            if self.old is not None:
                extra.update(self.old.source_params)
            source = {"Bucket": bucket, "Key": key}
            if old_version and old_version != "null":
                source["VersionId"] = old_version
            # REPLACE (with the same metadata): some stores do not count a new
            # SSE-C key as a change and refuse a COPY of an object onto itself.
            reply = self.writer.copy_object(
                Bucket=bucket,
                Key=key,
                CopySource=source,
                MetadataDirective="REPLACE",
                **extra,
            )
            return reply.get("VersionId"), old_version
        got = self.reader.get_object(Bucket=bucket, Key=key)
        keep = {k: got[k] for k in _KEEP if got.get(k)}
        with got["Body"] as body:
            result = upload(self.writer, body, bucket, key, size=size, extra_args=keep)
        return result.version_id, got.get("VersionId")

    def remove_version(self, bucket: str, key: str, version_id: str) -> str:
        """Delete one version; what happened, as text."""
        try:
            self.writer.delete_object(Bucket=bucket, Key=key, VersionId=version_id)
        except (ClientError, BotoCoreError) as exc:
            return f"deleting version {version_id} FAILED ({_why(exc)}): delete it by hand"
        return f"version {version_id} was deleted"


def rekey(
    job: Rekeyer,
    bucket: str,
    prefix: str,
    state: StateFile,
    on_object: Callable[[str, str], None] | None = None,
    *,
    purge_old_versions: bool = False,
) -> RekeyResult:
    """Rewrite every object under ``prefix`` with ``job.new``; resumable via ``state``.

    On a versioned bucket the version each rewrite replaced (still plaintext,
    or readable with the old key) stays unless ``purge_old_versions``; it is
    deleted, by its id, only after the new version is proven.  A new version
    that cannot be proven is deleted by its id and the key is reported failed.
    """
    result = RekeyResult()

    def fail(key: str, why: str) -> None:
        result.failed[key] = why
        if on_object is not None:
            on_object(key, "failed")

    for key, size in job.objects(bucket, prefix):
        if key in state.done:
            result.skipped.append(key)
            continue
        try:
            if job.old is None:
                found = job.mode(bucket, key)
                if found.mode == "unknown":
                    fail(key, f"its encryption could not be established ({found.evidence})")
                    continue
                if found.mode != "none":
                    result.skipped.append(key)
                    continue
            if not job.already_new(bucket, key):
                new_version, old_version = job.rewrite(bucket, key, size)
                if not job.already_new(bucket, key, new_version):
                    outcome = (
                        job.remove_version(bucket, key, new_version)
                        if new_version
                        else "the store gave no version id to remove"
                    )
                    fail(key, f"rewritten, but a HeadObject does not prove it: {outcome}")
                    continue
                if old_version and old_version != "null" and old_version != new_version:
                    if purge_old_versions:
                        result.purged_versions[key] = job.remove_version(bucket, key, old_version)
                    else:
                        result.kept_versions[key] = old_version
        except (ClientError, BotoCoreError, SafeS3Error) as exc:
            fail(key, f"{_why(exc)}: the object is unchanged")
            continue
        state.record(key)
        result.done.append(key)
        if on_object is not None:
            on_object(key, "done")
    return result


def _why(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "error")
    return f"{type(exc).__name__}: {exc}"
