"""The README's main job, run in-process against the live store."""

from __future__ import annotations

from pathlib import Path

import pytest

from safes3._cli._demo import run
from tests.storeinfo import StoreInfo

pytestmark = pytest.mark.store


def test_demo_holds_every_guarantee(store: StoreInfo) -> None:
    lines: list[str] = []
    assert run(Path(store.path), out=lines.append) == 0
    text = "\n".join(lines)
    assert "REFUSED (ACLRefusedError)" in text
    assert "REFUSED (InsecureTransportError)" in text
    wrong_key = next(line for line in lines if "read the SSE-C object with another key" in line)
    assert "REFUSED" in wrong_key
    assert text.rstrip().endswith("all guarantees held")
