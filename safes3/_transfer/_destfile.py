"""The file a download writes into before it is verified: nameless where the OS allows.

On Linux an ``O_TMPFILE`` file has no name until it is linked, so no crash,
``SIGKILL`` or power cut can leave unverified bytes under any name: the
kernel frees it with its last descriptor.  Only after verification is it
linked under a unique temporary name beside the target and renamed over the
target (``rename`` is atomic; ``link`` cannot replace).  Where ``O_TMPFILE``
is refused (another OS, a file system without it) a hidden ``mkstemp`` file
beside the target is used instead and removed on every failure that reaches
Python, Ctrl-C included; only a kill that gives the process no chance to run
leaves it behind (its name says what it is: ``.NAME.XXXX.safes3-partial``).
Either way the file is created readable by its owner only (mode 0600, as
``mkstemp`` makes it) and keeps that mode under the target's name.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import tempfile
from pathlib import Path

__all__ = ["DestFile"]

_NO_TMPFILE = {errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT}
_SUFFIX = ".safes3-partial"


class DestFile:
    """A writable descriptor for ``target``'s future contents; ``publish`` or ``discard`` it."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.name: str | None = None
        flag = getattr(os, "O_TMPFILE", 0)
        fd = -1
        if flag and os.path.isdir("/proc/self/fd"):
            try:
                fd = os.open(target.parent, flag | os.O_RDWR | getattr(os, "O_CLOEXEC", 0), 0o600)
            except OSError as exc:
                if exc.errno not in _NO_TMPFILE:
                    raise
        if fd < 0:
            fd, self.name = tempfile.mkstemp(
                dir=target.parent, prefix=f".{target.name}.", suffix=_SUFFIX
            )
        self.fd = fd

    @property
    def nameless(self) -> bool:
        """True when the bytes have no name on disk until :meth:`publish`."""
        return self.name is None

    def truncate(self, size: int) -> None:
        os.ftruncate(self.fd, size)

    def publish(self) -> None:
        """Give the verified file the target's name, atomically replacing what was there."""
        if self.name is None:
            self.name = self._link()
        try:
            os.replace(self.name, self.target)
        except BaseException:
            Path(self.name).unlink(missing_ok=True)
            raise
        finally:
            self.name = None
            self._close()

    def _link(self) -> str:
        """A name for the nameless file (``linkat`` through ``/proc``), else a copy with one."""
        name = f".{self.target.name}.{secrets.token_hex(6)}{_SUFFIX}"
        dir_fd = os.open(self.target.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            # A dst_dir_fd makes os.link call linkat(), which follows the /proc link.
            os.link(f"/proc/self/fd/{self.fd}", name, dst_dir_fd=dir_fd, follow_symlinks=True)
            return str(self.target.with_name(name))
        except OSError:
            pass
        finally:
            os.close(dir_fd)
        fd, copy = tempfile.mkstemp(
            dir=self.target.parent, prefix=f".{self.target.name}.", suffix=_SUFFIX
        )
        try:
            size = os.fstat(self.fd).st_size
            done = 0
            while done < size:
                sent = os.sendfile(fd, self.fd, done, size - done)
                if not sent:
                    raise OSError(f"copying the download into {copy} stopped at byte {done}")
                done += sent
        except BaseException:
            os.close(fd)
            Path(copy).unlink(missing_ok=True)
            raise
        os.close(fd)
        return copy

    def discard(self) -> None:
        """Forget the bytes: remove the name if there is one, close the descriptor."""
        if self.name is not None:
            Path(self.name).unlink(missing_ok=True)
            self.name = None
        self._close()

    def _close(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1
