"""The README's main job, run in-process against the live store."""

from __future__ import annotations

from pathlib import Path

import pytest

from safes3._demo import run
from tests.storeinfo import StoreInfo

pytestmark = pytest.mark.store


def test_demo_holds_every_guarantee(store: StoreInfo) -> None:
    lines: list[str] = []
    assert run(Path(store.path), out=lines.append) == 0
    text = "\n".join(lines)
    assert "REFUSED (ACLRefusedError)" in text
    assert "REFUSED (InsecureTransportError)" in text
    assert "REFUSED (ClientError)" in text
    assert text.rstrip().endswith("all guarantees held")
