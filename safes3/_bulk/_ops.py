"""How one object of a bulk run moves: the request (or engine call) for each direction.

Small objects are one request through the guarded client (which adds the
body checksum, the encryption, and proves it from the answer), retried with
the engine's backoff; large ones go through :func:`safes3.upload` and
:func:`safes3.download`.  S3 to S3 uses CopyObject where the store profile
says copying with SSE headers works (``copy_with_sse``) and the object is
within CopyObject's 5 GiB, and streams through this process otherwise.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from typing import Any

from botocore.client import BaseClient

from safes3._bulk._plan import Item, Location, local_target
from safes3._bulk._state import Ledger, StateFile
from safes3._exceptions import SafeS3Error
from safes3._transfer._download import download
from safes3._transfer._fetchers import WRITE
from safes3._transfer._retry import RetryableError, run
from safes3._transfer._settings import TransferSettings
from safes3._transfer._upload import upload

__all__ = ["MAX_COPY", "SMALL", "Mover"]

MiB = 1 << 20
SMALL = 8 * MiB
"""Objects below this size move in one request; larger ones through the streaming engine."""
MAX_COPY = 5 * 1024 * MiB


class Mover:
    """The transfers of one run, between ``src`` and ``dst``, through one client."""

    def __init__(
        self,
        s3: BaseClient,
        src: Location,
        dst: Location,
        settings: TransferSettings,
        ledger: Ledger,
        state: StateFile | None,
        *,
        copy_with_sse: bool,
    ) -> None:
        self.s3: Any = s3
        self.src, self.dst, self.settings = src, dst, settings
        self.ledger, self.state, self.copy_with_sse = ledger, state, copy_with_sse

    def _retry(self, call: Callable[[], Any]) -> Any:
        return run(self.settings, call, self.ledger.retried)

    def upload(self, item: Item) -> None:
        assert item.path is not None
        bucket, key = str(self.dst.bucket), self.dst.prefix + item.rel
        if item.size < SMALL:
            data = item.path.read_bytes()
            self._retry(lambda: self.s3.put_object(Bucket=bucket, Key=key, Body=data))
            return
        journal = self.state.journal_for(item.rel) if self.state is not None else None
        upload(
            self.s3,
            item.path,
            bucket,
            key,
            settings=self.settings,
            size=item.size,
            journal=journal,
            progress=self.ledger.watch(),
        )

    def download(self, item: Item) -> None:
        assert self.dst.path is not None
        target = local_target(self.dst.path, item.rel)
        if isinstance(target, str):
            raise SafeS3Error(target)
        bucket, key = str(self.src.bucket), self.src.prefix + item.rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if item.size >= SMALL:
            watch = self.ledger.watch()
            download(self.s3, bucket, key, target, settings=self.settings, progress=watch)
            return
        data: bytes = self._retry(lambda: self._get(bucket, key))
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb", buffering=0) as out:
                view, done = memoryview(data), 0
                while done < len(view):
                    wrote = out.write(view[done : done + WRITE])
                    if not wrote:
                        raise OSError(f"writing {tmp} stopped at byte {done}")
                    done += wrote
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def _get(self, bucket: str, key: str) -> bytes:
        """One GetObject, read whole; botocore checks the CRC when the store keeps one."""
        got = self.s3.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        with got["Body"] as body:
            data: bytes = body.read()
        if len(data) != got.get("ContentLength", len(data)):
            raise RetryableError(f"s3://{bucket}/{key} ended after {len(data)} bytes")
        return data

    def copy(self, item: Item) -> None:
        sb, sk = str(self.src.bucket), self.src.prefix + item.rel
        db, dk = str(self.dst.bucket), self.dst.prefix + item.rel
        if self.copy_with_sse and item.size <= MAX_COPY:
            source = {"Bucket": sb, "Key": sk}
            self._retry(lambda: self.s3.copy_object(Bucket=db, Key=dk, CopySource=source))
        elif item.size < SMALL:
            data = self._retry(lambda: self._get(sb, sk))
            self._retry(lambda: self.s3.put_object(Bucket=db, Key=dk, Body=data))
        else:
            got = self._retry(lambda: self.s3.get_object(Bucket=sb, Key=sk))
            with got["Body"] as body:
                watch = self.ledger.watch()
                upload(
                    self.s3, body, db, dk, settings=self.settings, size=item.size, progress=watch
                )

    def delete(self, item: Item) -> None:
        if self.dst.is_s3:
            bucket, key = self.dst.bucket, self.dst.prefix + item.rel
            self._retry(lambda: self.s3.delete_object(Bucket=bucket, Key=key))
        elif item.path is not None:
            item.path.unlink()
