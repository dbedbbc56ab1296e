"""The rekey state file: appended and fsynced, a torn last line ignored, damage refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from safes3 import ConfigurationError
from safes3._cli._rekey import StateFile

HEADER = {"bucket": "b", "prefix": "p/", "old": "none", "new": "SSE-C:x"}


def test_a_torn_last_line_is_ignored_and_cut_off(tmp_path: Path) -> None:
    path = tmp_path / "state.jsonl"
    state = StateFile(path, HEADER)
    state.record("p/1")
    whole = path.read_bytes()
    state.record("p/2")
    last = path.read_bytes()[len(whole) :]
    for cut in range(1, len(last)):
        path.write_bytes(whole + last[:cut])
        again = StateFile(path, HEADER)
        assert again.done == {"p/1"}
        assert path.read_bytes() == whole
        again.record("p/2")
        assert StateFile(path, HEADER).done == {"p/1", "p/2"}


def test_a_damaged_middle_line_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.jsonl"
    state = StateFile(path, HEADER)
    state.record("p/1")
    state.record("p/2")
    lines = path.read_bytes().split(b"\n")
    lines[1] = b"{garbage"
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(ConfigurationError, match="line 2 is damaged"):
        StateFile(path, HEADER)
