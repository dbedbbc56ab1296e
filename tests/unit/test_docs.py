"""The documented capability table is the code's table."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import safes3

DOC = Path(__file__).resolve().parents[2] / "docs" / "compatibility.md"


def render(value: object) -> str:
    if isinstance(value, frozenset):
        return ", ".join(sorted(value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def test_compatibility_table_matches_profiles() -> None:
    rows = {}
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0].startswith("`") and len(cells) == len(safes3.PROFILES) + 1:
            rows[cells[0].strip("`")] = cells[1:]
    header = next(line for line in DOC.read_text().splitlines() if line.startswith("| capability"))
    names = [c.strip() for c in header.strip().strip("|").split("|")][1:]
    assert names == list(safes3.PROFILES)
    fields = [f.name for f in dataclasses.fields(safes3.StoreProfile) if f.name != "name"]
    assert sorted(rows) == sorted(fields)
    for field in fields:
        expected = [render(getattr(safes3.PROFILES[n], field)) for n in names]
        assert rows[field] == expected, field
