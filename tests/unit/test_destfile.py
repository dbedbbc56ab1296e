"""The download's destination file: no name until verified, nothing left when discarded."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from safes3._transfer._destfile import DestFile


def test_the_bytes_have_no_name_until_published(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"previous")
    dest = DestFile(target)
    assert dest.nameless
    dest.truncate(6)
    os.pwrite(dest.fd, b"abc", 3)
    os.pwrite(dest.fd, b"xyz", 0)
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
    assert target.read_bytes() == b"previous"
    dest.publish()
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
    assert target.read_bytes() == b"xyzabc"
    assert target.stat().st_mode & 0o777 == 0o600


def test_a_discarded_file_leaves_the_target_as_it_was(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"previous")
    dest = DestFile(target)
    os.pwrite(dest.fd, b"unverified", 0)
    dest.discard()
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
    assert target.read_bytes() == b"previous"


def test_without_o_tmpfile_a_hidden_partial_is_used_and_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(os, "O_TMPFILE", raising=False)
    target = tmp_path / "out.bin"
    dest = DestFile(target)
    assert not dest.nameless
    (partial,) = tmp_path.iterdir()
    assert partial.name.startswith(".out.bin.")
    assert partial.name.endswith(".safes3-partial")
    dest.discard()
    assert list(tmp_path.iterdir()) == []
    dest = DestFile(target)
    os.pwrite(dest.fd, b"ok", 0)
    dest.publish()
    assert [(p.name, p.read_bytes()) for p in tmp_path.iterdir()] == [("out.bin", b"ok")]


def test_when_linking_is_refused_the_verified_bytes_are_copied_to_a_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: Any, **__: Any) -> None:
        raise PermissionError("linkat refused")

    target = tmp_path / "out.bin"
    dest = DestFile(target)
    data = os.urandom(300_000)
    os.pwrite(dest.fd, data, 0)
    monkeypatch.setattr(os, "link", refuse)
    dest.publish()
    assert [(p.name, p.read_bytes()) for p in tmp_path.iterdir()] == [("out.bin", data)]
