"""The append-only JSON-lines file behind the upload journal and rekey's state file.

One JSON object per line, appended and never rewritten in place.  Crash
safety is the same for both users: a line is appended with one ``write`` and
fsynced before the caller goes on, so a killed process loses nothing and a
power cut at most the line being written.  A torn last line (no newline: the
crash came mid-write) is ignored and cut off when the file is read; a damaged
line before it is not a crash artefact and is refused (:class:`DamagedLine`,
which each user turns into its own error).  A file that must appear whole (a
header that alone names what to resume) is written by :func:`replace`:
temporary file, fsync, rename, fsync of the directory.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from safes3._exceptions import ConfigurationError

__all__ = ["DamagedLine", "append", "read", "read_state", "replace"]


class DamagedLine(ValueError):
    """A line other than the last is not a JSON object."""


def _line(entry: dict[str, Any]) -> bytes:
    return (json.dumps(entry, separators=(",", ":")) + "\n").encode()


def read(path: Path, raw: bytes | None = None, *, whole_document: bool = False) -> list[Any]:
    """The complete lines' objects; a torn last line is cut off the file.

    With ``whole_document``, a file holding one JSON document and no newline
    (an upload journal of version 1) is read as that one entry.
    """
    if raw is None:
        raw = path.read_bytes()
    complete = raw[: raw.rfind(b"\n") + 1]
    if (
        whole_document
        and not complete
        and raw.lstrip().startswith(b"{")
        and raw.rstrip().endswith(b"}")
    ):
        complete = raw
    entries = []
    for number, line in enumerate(complete.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError as exc:
            raise DamagedLine(f"line {number} is damaged ({exc})") from exc
        if not isinstance(entry, dict):
            raise DamagedLine(f"line {number} is not an object")
        entries.append(entry)
    if len(complete) < len(raw):
        with path.open("r+b") as fh:
            fh.truncate(len(complete))
            os.fsync(fh.fileno())
    return entries


def read_state(path: Path) -> list[dict[str, Any]]:
    """A resumable run's state file: :func:`read`, with damage as :class:`ConfigurationError`."""
    try:
        return read(path)
    except DamagedLine as exc:
        raise ConfigurationError(
            f"state file {path}: {exc}; it is not a torn last line, so it was not written "
            "by an interrupted run: delete it to start over"
        ) from exc


def append(path: Path, entry: dict[str, Any], *, create: bool = False) -> None:
    """Append one line with one ``write`` and fsync it (``create``: the file may be new)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | (os.O_CREAT if create else 0), 0o600)
    try:
        os.write(fd, _line(entry))
        os.fsync(fd)
    finally:
        os.close(fd)


def replace(path: Path, entries: Iterable[dict[str, Any]]) -> None:
    """Write ``entries`` as a new file at ``path``, atomically and durably."""
    data = b"".join(_line(entry) for entry in entries)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dirfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dirfd)
    finally:
        os.close(dirfd)
