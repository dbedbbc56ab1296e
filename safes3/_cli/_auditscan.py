"""The audit's object scan: the listing streamed through a bounded pool of readers.

On a versioned bucket every stored version is scanned (ListObjectVersions,
each read naming its VersionId): an older plaintext version is plaintext
stored, whatever the current version is.

The listing is consumed page by page (``PAGE_SIZE`` keys a page) and each
object is submitted only when fewer than ``2 * workers`` are in flight, so
the scan holds at most one listing page and ``2 * workers`` objects' results
at a time, whatever the bucket's size.  What it keeps is counts per
encryption mode, at most ``SAMPLE`` example keys per finding and at most
``MAX_OBJECT_FINDINGS`` per-object ACL findings (then one summary finding):
memory does not grow with the number of objects.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from safes3._boundary import describe
from safes3._cli._auditbase import Progress
from safes3._cli._objectmode import Classified, classify
from safes3._core._encryption import SSEC

__all__ = ["MAX_OBJECT_FINDINGS", "PAGE_SIZE", "SAMPLE", "Scan", "scan_objects"]

PAGE_SIZE = 1000
SAMPLE = 5
MAX_OBJECT_FINDINGS = 100

_GONE = ("NoSuchKey", "NoSuchVersion", "404 ")
AclFindings = Callable[[dict[str, Any], str], list[Any]]


@dataclass
class Scan:
    """What the scan found, in bounded memory."""

    total: int = 0
    inventory: dict[str, dict[str, int]] = field(default_factory=dict)
    unencrypted: int = 0
    unencrypted_sample: list[str] = field(default_factory=list)
    unclassified: int = 0
    unclassified_sample: list[str] = field(default_factory=list)
    acl_findings: list[Any] = field(default_factory=list)
    acl_more: int = 0


@dataclass(frozen=True)
class _Seen:
    key: str
    label: str
    size: int
    mode: Classified | None
    problem: str | None
    acl: list[Any]


def _one(
    read: Any, bucket: str, entry: dict[str, Any], ssec: SSEC | None, acl: AclFindings
) -> _Seen:
    key, size = entry["Key"], int(entry.get("Size", 0))
    version = entry.get("VersionId")
    version = version if version and version != "null" else None
    label = key if entry.get("IsLatest", True) else f"{key} (noncurrent version {version})"
    pinned = {"VersionId": version} if version else {}
    try:
        mode = classify(read, bucket, key, ssec, version)
    except (ClientError, BotoCoreError) as exc:
        return _Seen(key, label, size, None, describe(exc), [])
    try:
        found = acl(read("get_object_acl", Bucket=bucket, Key=key, **pinned), key)
    except (ClientError, BotoCoreError) as exc:
        return _Seen(key, label, size, mode, f"object ACL unreadable: {describe(exc)}", [])
    return _Seen(key, label, size, mode, None, found)


def _absorb(scan: Scan, seen: _Seen) -> None:
    if seen.mode is None and seen.problem and seen.problem.startswith(_GONE):
        return  # deleted between the listing and the read: nothing left to audit
    scan.total += 1
    mode = seen.mode.mode if seen.mode is not None else "unknown"
    row = scan.inventory.setdefault(mode, {"objects": 0, "bytes": 0})
    row["objects"] += 1
    row["bytes"] += seen.size
    if mode == "none":
        scan.unencrypted += 1
        if len(scan.unencrypted_sample) < SAMPLE:
            scan.unencrypted_sample.append(repr(seen.label))
    if mode == "unknown" or seen.problem is not None:
        scan.unclassified += 1
        if len(scan.unclassified_sample) < SAMPLE:
            reason = seen.problem or (seen.mode.evidence if seen.mode else "")
            scan.unclassified_sample.append(f"{seen.label!r} ({reason})")
    for finding in seen.acl:
        if len(scan.acl_findings) < MAX_OBJECT_FINDINGS:
            scan.acl_findings.append(finding)
        else:
            scan.acl_more += 1


def scan_objects(
    read: Any,
    pages: Any,
    bucket: str,
    *,
    acl: AclFindings,
    workers: int,
    ssec: SSEC | None = None,
    progress: Progress | None = None,
    page_size: int = PAGE_SIZE,
    versions: bool = False,
) -> Scan:
    """Classify and ACL-check every object (every version, with ``versions``) of ``bucket``."""
    scan = Scan()
    bound = 2 * max(1, workers)
    pending: set[Future[_Seen]] = set()
    done = 0

    def drain(until: int) -> None:
        nonlocal done
        while len(pending) > until:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                pending.discard(future)
                _absorb(scan, future.result())
                done += 1
                if progress is not None:
                    progress(done, None)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        method, field_name = (
            ("list_object_versions", "Versions") if versions else ("list_objects_v2", "Contents")
        )
        listing = pages(method, Bucket=bucket, PaginationConfig={"PageSize": page_size})
        for page in listing:
            for entry in page.get(field_name, []):
                drain(bound - 1)
                pending.add(pool.submit(_one, read, bucket, entry, ssec, acl))
        drain(0)
    return scan
