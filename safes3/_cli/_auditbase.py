"""The audit's shared pieces: findings, reports, and the read-only view of a client."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from botocore.exceptions import ClientError

from safes3._exceptions import SafeS3Error

__all__ = [
    "EXIT_CODES",
    "SEVERITIES",
    "BucketReport",
    "Finding",
    "Progress",
    "ReadOnly",
    "Severity",
    "code_of",
    "exit_code",
    "setting",
    "setting_or",
    "status_of",
]

Severity = Literal["info", "low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = ("info", "low", "medium", "high", "critical")
EXIT_CODES: dict[Severity, int] = {"info": 0, "low": 3, "medium": 4, "high": 5, "critical": 6}
"""Exit code of ``safes3 audit`` by worst finding (0 also when there is none)."""

Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class Finding:
    """One problem: what, where, how bad, the evidence seen, and the fix."""

    check: str
    severity: Severity
    bucket: str
    title: str
    evidence: str
    fix: str
    key: str | None = None


@dataclass
class BucketReport:
    """Findings and the object inventory (count and bytes per encryption mode)."""

    bucket: str
    findings: list[Finding] = field(default_factory=list)
    inventory: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, mode: str, size: int) -> None:
        row = self.inventory.setdefault(mode, {"objects": 0, "bytes": 0})
        row["objects"] += 1
        row["bytes"] += size

    def as_dict(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "findings": [asdict(f) for f in self.findings],
            "inventory": self.inventory,
        }


def exit_code(reports: Iterable[BucketReport]) -> int:
    """The exit code for the worst finding across ``reports``."""
    worst = 0
    for report in reports:
        for finding in report.findings:
            worst = max(worst, EXIT_CODES[finding.severity])
    return worst


class ReadOnly:
    """The audit's view of a client: refuses any operation that is not a read."""

    def __init__(self, s3: Any) -> None:
        self._s3 = s3

    def __call__(self, method: str, **params: Any) -> dict[str, Any]:
        if not method.startswith(("get_", "list_", "head_")):
            raise SafeS3Error(f"the audit may only read; {method} was not called")
        result: dict[str, Any] = getattr(self._s3, method)(**params)
        return result

    def pages(self, method: str, **params: Any) -> Iterator[dict[str, Any]]:
        if not method.startswith("list_"):
            raise SafeS3Error(f"the audit may only read; {method} was not called")
        yield from self._s3.get_paginator(method).paginate(**params)


def code_of(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code") or "")


def status_of(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def setting(rd: ReadOnly, method: str, bucket: str) -> tuple[dict[str, Any], str | None]:
    """A bucket setting and None, or ``{}`` and the store's code if the bucket has none.

    Only "not configured" (HTTP 404) is absorbed; any other answer is raised,
    for :func:`safes3._cli._audit.audit_bucket` to report the check as unverified.
    """
    try:
        return rd(method, Bucket=bucket), None
    except ClientError as exc:
        if status_of(exc) != 404:
            raise
        return {}, code_of(exc)


def setting_or(rd: ReadOnly, method: str, bucket: str, unset: Finding) -> dict[str, Any] | Finding:
    """A bucket setting, or ``unset`` (with the store's code as evidence) if it has none."""
    answer, missing = setting(rd, method, bucket)
    if missing is None:
        return answer
    return replace(unset, evidence=missing or unset.evidence)
