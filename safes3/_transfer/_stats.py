"""What a transfer cost, counted one way for uploads and downloads.

One mutable :class:`TransferStats` per upload or download, written only by
the caller's thread (workers hand their counts back with their results), and
read into :class:`~safes3.UploadResult` / :class:`~safes3.DownloadResult`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["TransferStats", "resent_inside"]


@dataclass(slots=True)
class TransferStats:
    """Retries and the bytes they cost; the bytes moved once.

    ``moved`` counts the bytes of this try sent (upload) or put in place
    (download), each once; ``resent`` the extra bytes retries put on the
    wire; ``refetched`` the bytes of download tries abandoned because the
    object changed; ``resumed`` the parts a journal let an upload skip.
    """

    retries: int = 0
    moved: int = 0
    resent: int = 0
    refetched: int = 0
    resumed: int = 0

    def retried(self, count: int, size: int) -> None:
        """``count`` more sends of a ``size``-byte body."""
        self.retries += count
        self.resent += count * size

    def counter(self, size: int) -> Callable[[int, BaseException], None]:
        """An ``on_retry`` for :func:`safes3._transfer._retry.run` of a ``size``-byte body."""

        def on_retry(_attempt: int, _error: BaseException) -> None:
            self.retried(1, size)

        return on_retry

    def restart(self) -> None:
        """A download starts again: what it had moved was fetched for nothing."""
        self.refetched += self.moved
        self.moved = 0


def resent_inside(reply: Mapping[str, Any]) -> int:
    """Sends botocore itself repeated for one engine call.

    The engine turns botocore's retries off for its calls; the one exception
    is the single resend after an expired-credentials refusal
    (:mod:`safes3._credentials._expiry`), which botocore counts in ``RetryAttempts``.
    """
    return int(reply.get("ResponseMetadata", {}).get("RetryAttempts") or 0)
