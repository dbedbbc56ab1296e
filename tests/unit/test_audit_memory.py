"""The audit of a 100,000-object bucket stays within the memory bound docs/cli.md states.

The client is an in-process stand-in serving a listing generated page by
page and a HeadObject/GetObjectAcl answer per key: what is measured is the
audit's own memory (its queue of objects in flight and what it keeps per
object), which does not depend on the store.  The store-facing behaviour of
the same code (streaming order, bounded in-flight reads) is tested against
the live stores in tests/integration/test_audit_advice.py.
"""

from __future__ import annotations

import threading
import tracemalloc
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

import safes3
from safes3._cli._audit import audit_bucket

OBJECTS = 100_000
BOUND = 4 << 20
"""docs/cli.md: one listing page and 2 x --workers objects in flight, under 4 MiB."""


class _Pages:
    def __init__(self, count: int) -> None:
        self.count = count

    def paginate(self, **params: Any) -> Iterator[dict[str, Any]]:
        size = params.get("PaginationConfig", {}).get("PageSize", 1000)
        for start in range(0, self.count, size):
            yield {
                "Contents": [
                    {"Key": f"objects/{n:08d}", "Size": 1000}
                    for n in range(start, min(start + size, self.count))
                ]
            }


class _Bucket:
    """Answers the audit's read calls for a bucket of ``count`` objects, one in 100 plaintext."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()

    def get_paginator(self, name: str) -> Any:
        return _Pages(self.count if name == "list_objects_v2" else 0)

    def head_object(self, Key: str, **_: Any) -> dict[str, Any]:
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        with self._lock:
            self.in_flight -= 1
        return {} if Key.endswith("00") else {"ServerSideEncryption": "aws:kms"}

    def get_object_acl(self, **_: Any) -> dict[str, Any]:
        return {"Grants": []}

    def get_bucket_policy(self, **_: Any) -> dict[str, Any]:
        raise ClientError(
            {"Error": {"Code": "NoSuchBucketPolicy"}, "ResponseMetadata": {"HTTPStatusCode": 404}},  # type: ignore[typeddict-item]
            "GetBucketPolicy",
        )

    def __getattr__(self, name: str) -> Any:
        return lambda **_: {}


def test_a_100000_object_bucket_is_audited_within_the_stated_bound() -> None:
    bucket = _Bucket(OBJECTS)
    profile = safes3.PROFILES["generic"]
    tracemalloc.start()
    try:
        report = audit_bucket(bucket, "b", profile, workers=8)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.inventory == {
        "none": {"objects": OBJECTS // 100, "bytes": OBJECTS // 100 * 1000},
        "SSE-KMS": {
            "objects": OBJECTS - OBJECTS // 100,
            "bytes": (OBJECTS - OBJECTS // 100) * 1000,
        },
    }
    unencrypted = [f for f in report.findings if f.check == "unencrypted-objects"]
    assert unencrypted[0].title.startswith(f"{OBJECTS // 100} of {OBJECTS} object(s)")
    assert peak < BOUND, f"peak {peak / (1 << 20):.1f} MiB"
