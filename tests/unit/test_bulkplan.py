"""The pure parts of bulk transfers: filters, the walk, safe local paths, the sync rule, state."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

import pytest

from safes3 import BulkResult, BulkTransferError, ConfigurationError, TransferError
from safes3._bulk._plan import Filters, etag_matches, local_target, parse_location, walk_local
from safes3._bulk._state import Budget, StateFile

MiB = 1 << 20


def test_filters_last_match_decides() -> None:
    f = Filters([("exclude", "*.log"), ("include", "keep/*.log"), ("exclude", "keep/no.log")])
    assert f.wanted("a/b.txt")
    assert not f.wanted("a/b.log")
    assert f.wanted("keep/yes.log")
    assert not f.wanted("keep/no.log")
    assert not Filters([("exclude", "*")]).wanted("deep/down/x")
    with pytest.raises(ConfigurationError):
        Filters([("drop", "*")])


def test_locations() -> None:
    s3 = parse_location("s3://b/some/prefix")
    assert (s3.bucket, s3.prefix, s3.name("x/y")) == ("b", "some/prefix/", "s3://b/some/prefix/x/y")
    assert parse_location("s3://b").prefix == ""
    assert parse_location("dir").path == Path("dir")
    for bad in ("s3://", "s3:///k", "https://x/y"):
        with pytest.raises(ConfigurationError):
            parse_location(bad)


def test_walk_reports_what_it_cannot_send(tmp_path: Path) -> None:
    (tmp_path / "b" / "c").mkdir(parents=True)
    (tmp_path / "b" / "c" / "deep.txt").write_bytes(b"deep")
    (tmp_path / "a-b").write_bytes(b"12")
    (tmp_path / "empty").mkdir()
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "link").symlink_to(tmp_path / "a-b")
    (tmp_path / "loop").symlink_to(tmp_path)
    (tmp_path / "bad\udcfe").write_bytes(b"x")
    (tmp_path / ("k" * 40)).write_bytes(b"long")
    reported: dict[str, str] = {}

    def report(rel: str, why: str) -> None:
        reported[rel] = why

    items = list(walk_local(tmp_path, follow_symlinks=False, report=report, key_room=30))
    assert [(i.rel, i.size) for i in items] == [("a-b", 2), ("b/c/deep.txt", 4)]
    assert reported["pipe"].startswith("special file")
    assert reported["link"].startswith("symbolic link")
    assert reported["loop"].startswith("symbolic link")
    assert "UTF-8" in reported["bad\\xfe"]
    assert "1024" in reported["k" * 40]

    reported.clear()
    followed = list(walk_local(tmp_path, follow_symlinks=True, report=report, key_room=30))
    assert ("link", 2) in [(i.rel, i.size) for i in followed]
    assert "loop" in reported["loop"]


def test_local_targets_never_leave_the_folder(tmp_path: Path) -> None:
    assert local_target(tmp_path, "a/b.txt") == tmp_path / "a" / "b.txt"
    for key in ("../x", "a/../../x", "a//b", "./a", "a/", "a/\x00b", "/abs", "x" * 256):
        assert isinstance(local_target(tmp_path, key), str), key


def test_etag_rule_single_and_multipart(tmp_path: Path) -> None:
    data = os.urandom(2 * MiB + 5)
    path = tmp_path / "f"
    path.write_bytes(data)
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert etag_matches(path, len(data), md5, 1 * MiB)
    assert not etag_matches(path, len(data), "0" * 32, 1 * MiB)
    parts = [data[i : i + 1 * MiB] for i in range(0, len(data), 1 * MiB)]
    joined = b"".join(hashlib.md5(p, usedforsecurity=False).digest() for p in parts)
    composite = hashlib.md5(joined, usedforsecurity=False).hexdigest() + "-3"
    assert etag_matches(path, len(data), composite, 1 * MiB)
    assert not etag_matches(path, len(data), composite, 2 * MiB)
    assert not etag_matches(path, len(data), composite[:-1] + "4", 1 * MiB)
    assert not etag_matches(path, len(data), None, 1 * MiB)
    assert not etag_matches(path, len(data), "opaque-etag", 1 * MiB)


def test_state_file_resumes_and_refuses_another_job(tmp_path: Path) -> None:
    path = tmp_path / "state"
    header = {"source": "a", "dest": "s3://b/p/", "encryption": "kms:k"}
    state = StateFile(path, header)
    state.record("x")
    state.record("y/z")
    state.close()
    with path.open("a") as fh:
        fh.write('{"done": "cut sh')  # a line cut short by a crash
    again = StateFile(path, header)
    assert again.done == {"x", "y/z"}
    again.record("after")  # the torn line was cut off, so this one stands alone
    again.close()
    assert json.loads(path.read_text().splitlines()[0]) == header
    assert StateFile(path, header).done == {"x", "y/z", "after"}
    with pytest.raises(ConfigurationError, match="another job"):
        StateFile(path, {**header, "dest": "s3://other/"})
    with path.open("a") as fh:
        fh.write('not json\n{"done": "later"}\n')
    with pytest.raises(ConfigurationError, match="not a torn last line"):
        StateFile(path, header)


def test_budget_caps_what_is_handed_out() -> None:
    assert Budget(100).take(500) == 100  # more than the whole budget: runs alone
    budget = Budget(100)
    taken: list[int] = []
    first = budget.take(70)
    waiter = threading.Thread(target=lambda: taken.append(budget.take(50)))
    waiter.start()
    waiter.join(0.2)
    assert taken == []
    budget.give(first)
    waiter.join(5)
    assert taken == [50]
    assert budget.peak <= 100


def test_result_check_names_failures() -> None:
    result = BulkResult("src", "s3://b/")
    assert result.check() is result
    result.failed = {"src/a": "InternalError (HTTP 500) from PutObject"}
    with pytest.raises(BulkTransferError, match="src/a") as caught:
        result.check()
    assert isinstance(caught.value, TransferError)
    assert caught.value.result is result
