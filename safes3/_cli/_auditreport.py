"""Renderings of audit reports: a readable table, JSON, and SARIF 2.1.0."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TextIO

from safes3._cli._audit import SEVERITIES, BucketReport, Finding

__all__ = ["to_json", "to_sarif", "write_table"]

_SARIF_LEVEL = {
    "info": "note",
    "low": "note",
    "medium": "warning",
    "high": "error",
    "critical": "error",
}
_SARIF_SCORE = {"info": "0.0", "low": "3.0", "medium": "5.0", "high": "7.5", "critical": "9.5"}
_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _order(finding: Finding) -> tuple[int, str, str]:
    return (-SEVERITIES.index(finding.severity), finding.bucket, finding.key or "")


def write_table(reports: Sequence[BucketReport], out: TextIO) -> None:
    """Findings (worst first) and the inventory, as plain aligned text."""
    for report in reports:
        out.write(f"Bucket {report.bucket}\n")
        if not report.findings:
            out.write("  no findings\n")
        for f in sorted(report.findings, key=_order):
            where = f" [{f.key}]" if f.key else ""
            out.write(f"  {f.severity.upper():<9}{f.check:<26}{f.title}{where}\n")
            out.write(f"  {'':<9}{'':<26}evidence: {f.evidence}\n")
            out.write(f"  {'':<9}{'':<26}fix: {f.fix}\n")
        out.write("  Inventory (encryption mode: objects, bytes)\n")
        if not report.inventory:
            out.write("    (no objects)\n")
        for mode, row in sorted(report.inventory.items()):
            out.write(f"    {mode:<9}{row['objects']:>10} {row['bytes']:>16}\n")


def to_json(reports: Sequence[BucketReport]) -> str:
    return json.dumps({"buckets": [r.as_dict() for r in reports]}, indent=2)


def to_sarif(reports: Sequence[BucketReport], version: str) -> dict[str, Any]:
    """A SARIF 2.1.0 log: one rule per check, one result per finding."""
    findings = [f for r in reports for f in sorted(r.findings, key=_order)]
    rules: dict[str, dict[str, Any]] = {}
    for f in findings:
        rules.setdefault(
            f.check,
            {
                "id": f.check,
                "name": f.check.replace("-", " "),
                "shortDescription": {"text": f.title},
                "help": {"text": f.fix},
                "properties": {"security-severity": _SARIF_SCORE[f.severity]},
            },
        )
    results = [
        {
            "ruleId": f.check,
            "level": _SARIF_LEVEL[f.severity],
            "message": {"text": f"{f.title}. Evidence: {f.evidence}. Fix: {f.fix}"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": f"s3://{f.bucket}/{f.key or ''}"}
                    }
                }
            ],
            "properties": {"severity": f.severity},
        }
        for f in findings
    ]
    return {
        "$schema": _SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "safes3-audit",
                        "version": version,
                        "rules": list(rules.values()),
                    }
                },
                "results": results,
            }
        ],
    }
