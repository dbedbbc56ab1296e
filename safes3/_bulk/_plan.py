"""What a bulk transfer moves: the two ends, the source's objects, filters, the sync rule.

Local trees are walked directory by directory in sorted order; nothing but
regular files is ever opened (a FIFO would block the run, a device would be
read forever).  Symbolic links are not followed unless asked, so a link to a
file outside the tree cannot leak it into a bucket.  A name that cannot
become an S3 key (not valid UTF-8, longer than 1,024 bytes) or an S3 key that
cannot become a safe local path (``..``, empty segments, NUL) is reported
against that one object; the run goes on.

Sync compares each source object with the destination's listing: a
different size means changed; an equal size is then compared by MD5 with
the listing's ETag (the MD5 of the object for a single PUT, the MD5 of the
parts' MD5s with ``-N`` for a multipart upload made with the same part
size).  An ETag that is not of that form (another tool's part size, or a
store whose ETags are not MD5s) counts as changed, so sync re-sends rather
than wrongly skips.  ``size_only`` skips the MD5 comparison.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safes3._exceptions import ConfigurationError
from safes3._transfer._settings import part_size_for

__all__ = [
    "Filters",
    "Item",
    "Location",
    "etag_matches",
    "list_s3",
    "local_target",
    "parse_location",
    "walk_local",
]

MAX_KEY = 1024
_READ = 1 << 20
Report = Callable[[str, str], None]


@dataclass(frozen=True)
class Location:
    """One end of a bulk transfer: ``s3://bucket/prefix/`` or a local directory."""

    text: str
    bucket: str | None = None
    prefix: str = ""
    path: Path | None = None

    @property
    def is_s3(self) -> bool:
        return self.bucket is not None

    def name(self, rel: str) -> str:
        """How an object is named to the user: its full address on this side."""
        if self.is_s3:
            return f"s3://{self.bucket}/{self.prefix}{rel}"
        return str(Path(self.text) / rel)


def parse_location(text: str) -> Location:
    """``s3://BUCKET[/PREFIX]`` (the prefix is taken as a folder) or a local path."""
    if text.startswith("s3://"):
        bucket, _, prefix = text[5:].partition("/")
        if not bucket:
            raise ConfigurationError(f"{text!r} names no bucket: use s3://BUCKET/PREFIX")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return Location(text, bucket=bucket, prefix=prefix)
    if "://" in text:
        raise ConfigurationError(f"{text!r} is neither an s3:// address nor a local path")
    return Location(text, path=Path(text))


@dataclass(frozen=True, slots=True)
class Item:
    """One source object: its path relative to the root (``/``-separated) and size."""

    rel: str
    size: int
    etag: str | None = None
    path: Path | None = None


class Filters:
    """aws-cli's ``--exclude``/``--include``: the last pattern that matches decides.

    Patterns are shell globs matched against the path relative to the source
    (``*`` also matches ``/``); with no matching pattern an object is included.
    """

    def __init__(self, rules: Sequence[tuple[str, str]] = ()) -> None:
        for kind, _ in rules:
            if kind not in {"include", "exclude"}:
                raise ConfigurationError(f"a filter is 'include' or 'exclude', not {kind!r}")
        self.rules = tuple(rules)

    def wanted(self, rel: str) -> bool:
        keep = True
        for kind, pattern in self.rules:
            if fnmatch.fnmatchcase(rel, pattern):
                keep = kind == "include"
        return keep


def walk_local(
    root: Path, *, follow_symlinks: bool, report: Report, key_room: int = MAX_KEY
) -> Iterator[Item]:
    """Regular files under ``root`` in sorted order; everything else goes to ``report``."""
    if not root.is_dir():
        raise ConfigurationError(f"{str(root)!r} is not a directory")
    seen: set[tuple[int, int]] = set()
    top = root.stat()
    seen.add((top.st_dev, top.st_ino))
    stack: list[tuple[Path, str]] = [(root, "")]
    while stack:
        folder, base = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            report(base or ".", f"cannot read this directory: {exc.strerror}")
            continue
        subdirs: list[tuple[Path, str]] = []
        for entry in entries:
            rel = _rel_name(base, entry.name, report)
            if rel is None:
                continue
            found = _classify(entry, rel, follow_symlinks, seen, report)
            if found == "dir":
                subdirs.append((Path(entry.path), rel + "/"))
            elif isinstance(found, int):
                if len(rel.encode()) > key_room:
                    report(rel, f"the key would exceed S3's {MAX_KEY} bytes")
                    continue
                yield Item(rel, found, path=Path(entry.path))
        stack.extend(reversed(subdirs))


def _rel_name(base: str, name: str, report: Report) -> str | None:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(name).decode("utf-8", "backslashreplace")
        report(base + shown, "the name is not valid UTF-8, so it cannot be an S3 key")
        return None
    return base + name


def _classify(
    entry: os.DirEntry[str],
    rel: str,
    follow: bool,
    seen: set[tuple[int, int]],
    report: Report,
) -> str | int | None:
    """``"dir"``, a regular file's size, or None (reported or nothing to send)."""
    try:
        if entry.is_symlink():
            if not follow:
                report(rel, "symbolic link, not followed (--follow-symlinks follows links)")
                return None
            st = os.stat(entry.path)
        else:
            st = entry.stat(follow_symlinks=False)
    except OSError as exc:
        report(rel, f"cannot stat: {exc.strerror}")
        return None
    if stat.S_ISDIR(st.st_mode):
        if (st.st_dev, st.st_ino) in seen:
            report(rel, "directory already visited (a symbolic link loop): skipped")
            return None
        seen.add((st.st_dev, st.st_ino))
        return "dir"
    if stat.S_ISREG(st.st_mode):
        return st.st_size
    report(rel, "special file (FIFO, socket or device): not copied")
    return None


def list_s3(s3: Any, bucket: str, prefix: str) -> Iterator[Item]:
    """Every object under ``prefix``, as listed (ETag without its quotes)."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        for obj in page.get("Contents", []):
            etag = str(obj.get("ETag") or "").strip('"') or None
            yield Item(obj["Key"][len(prefix) :], int(obj.get("Size", 0)), etag=etag)


def local_target(root: Path, rel: str) -> Path | str:
    """Where ``rel`` lands under ``root``, or why it cannot land there safely."""
    parts = rel.split("/")
    if rel.endswith("/"):
        return "a folder marker (key ending in '/'): no file to write"
    if any(p in {"", ".", ".."} for p in parts):
        return "the key has an empty, '.' or '..' path segment, which would leave the folder"
    if "\x00" in rel:
        return "the key holds a NUL character, which no file name can"
    if any(len(os.fsencode(p)) > 255 for p in parts):
        return "a path segment is longer than 255 bytes, which the file system cannot hold"
    return root.joinpath(*parts)


def etag_matches(path: Path, size: int, etag: str | None, part_size: int) -> bool:
    """Whether ``path`` holds what a store's MD5-style ``etag`` describes (see module doc)."""
    if not etag:
        return False
    digest, _, count = etag.partition("-")
    if len(digest) != 32:
        return False
    try:
        if not count:
            return _md5_file(path) == digest
        part = part_size_for(size, part_size)
        if int(count) != max(1, -(-size // part)):
            return False
        joined = b"".join(_md5_parts(path, part))
        return hashlib.md5(joined, usedforsecurity=False).hexdigest() == digest
    except (OSError, ValueError, ConfigurationError):
        return False


def _md5_file(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        while block := fh.read(_READ):
            h.update(block)
    return h.hexdigest()


def _md5_parts(path: Path, part: int) -> Iterator[bytes]:
    """The raw MD5 of each ``part``-sized piece of the file (at least one)."""
    with path.open("rb") as fh:
        first = True
        while True:
            h = hashlib.md5(usedforsecurity=False)
            left = part
            while left and (block := fh.read(min(_READ, left))):
                h.update(block)
                left -= len(block)
            if left == part and not first:
                return
            yield h.digest()
            first = False
            if left:
                return
