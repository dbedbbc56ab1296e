"""What a failed upload does, as data: abort or keep the upload, and which error to raise.

Failures come in three kinds, looked up in :data:`POLICY` by class, first
match wins.  safes3's own errors (a refused check, a bad journal) abort the
multipart upload and pass unchanged.  A store failure left after the
retries (a botocore error, or :class:`StoreFailure` carrying one from a
worker) aborts it and becomes a :class:`TransferError` saying whether the
abort worked.  Anything else comes from the caller's side (the source, the
progress callback, Ctrl-C): it passes unchanged and a journaled upload is
kept, so that calling ``upload`` again resumes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from safes3._boundary import describe
from safes3._exceptions import SafeS3Error, TransferError

__all__ = ["POLICY", "StoreFailure", "Verdict", "translate", "verdict"]


class StoreFailure(Exception):
    """A store call failed for good: the upload must be aborted."""


@dataclass(frozen=True)
class Verdict:
    abort_journaled: bool
    """Abort (and forget) a journaled upload too; otherwise it is kept to resume."""
    store_error: bool
    """Raise a :class:`TransferError` naming the cause, instead of the error itself."""


POLICY: tuple[tuple[type[BaseException], Verdict], ...] = (
    (SafeS3Error, Verdict(abort_journaled=True, store_error=False)),
    (StoreFailure, Verdict(abort_journaled=True, store_error=True)),
    (BotoCoreError, Verdict(abort_journaled=True, store_error=True)),
    (ClientError, Verdict(abort_journaled=True, store_error=True)),
    (BaseException, Verdict(abort_journaled=False, store_error=False)),
)


def verdict(exc: BaseException) -> Verdict:
    return next(v for kind, v in POLICY if isinstance(exc, kind))


def translate(where: str, exc: BaseException, outcome: str | None) -> BaseException:
    """The error to raise for ``exc``; ``outcome`` says what became of the multipart upload."""
    if not verdict(exc).store_error:
        return exc
    why = str(exc) if isinstance(exc, StoreFailure) else describe(exc)
    tail = "" if outcome is None else f"; {outcome}"
    return TransferError(f"upload of {where} failed: {why}{tail}")
