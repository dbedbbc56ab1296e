"""Per-part retries: which failures are worth another try, and how long to wait.

A transfer retries one part (or range) at a time, from its buffer, with
tenacity: exponential backoff with full jitter, bounded in attempts.  So that
these retries do not multiply with botocore's own, the transfer engine marks
its calls and a ``needs-retry`` handler on the client tells botocore not to
retry those (other calls on the same client keep botocore's retries).
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import botocore
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
    SSLError,
)
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_random_exponential

from safes3._transfer_settings import TransferSettings

__all__ = [
    "FALSE_MEANS_NO_RETRY",
    "RetryableError",
    "describe",
    "engine_calls",
    "is_retryable",
    "no_expect_for_engine",
    "no_retry_for_engine",
    "run",
]

T = TypeVar("T")

_RETRY_CODES = frozenset(
    {
        "SlowDown",
        "RequestTimeout",
        "InternalError",
        "ServiceUnavailable",
        "Throttling",
        "ThrottlingException",
        "RequestTimeTooSkewed",
        "BadDigest",
    }
)
_NETWORK = (
    ConnectionClosedError,
    ReadTimeoutError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ResponseStreamingError,
    IncompleteReadError,
    ConnectionError,
    TimeoutError,
)
_local = threading.local()
FALSE_MEANS_NO_RETRY = tuple(int(p) for p in botocore.__version__.split(".")[:2]) >= (1, 44)


class RetryableError(Exception):
    """A part or range came back wrong in a way a fresh attempt can fix."""


def is_retryable(exc: BaseException) -> bool:
    """Connection resets, timeouts, 5xx, SlowDown, RequestTimeout, bad digests."""
    if isinstance(exc, SSLError):
        return not _certificate_refused(exc)
    if isinstance(exc, (*_NETWORK, RetryableError)):
        return True
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error.get("Code") in _RETRY_CODES or int(status) >= 500
    return isinstance(exc, HTTPClientError)


def _certificate_refused(exc: BaseException) -> bool:
    """A TLS failure that a retry cannot fix (the peer's certificate was refused).

    A connection cut in the middle of a TLS record also surfaces as botocore's
    SSLError ("EOF occurred in violation of protocol"); that one is retried.
    """
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, ssl.SSLCertVerificationError):
            return True
        if isinstance(item, BaseException):
            todo += [item.__cause__, item.__context__, *item.args]
            todo += [getattr(item, "reason", None), getattr(item, "kwargs", {}).get("error")]
    text = str(exc).lower()
    return "certificate" in text or "hostname" in text


def run(
    settings: TransferSettings,
    call: Callable[[], T],
    on_retry: Callable[[int, BaseException], None],
) -> T:
    """``call()`` with the transfer's retry policy; ``on_retry(attempt, error)`` before each retry.

    The last error is re-raised unchanged when the attempts run out.
    """

    def before_sleep(state: RetryCallState) -> None:
        assert state.outcome is not None
        error = state.outcome.exception()
        assert error is not None
        on_retry(state.attempt_number, error)

    retrying = Retrying(
        stop=stop_after_attempt(settings.max_attempts),
        wait=wait_random_exponential(multiplier=settings.backoff_initial, max=settings.backoff_max),
        retry=retry_if_exception(is_retryable),
        sleep=settings.sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    result: T = retrying(_marked, call)
    return result


def _marked(call: Callable[[], T]) -> T:
    with engine_calls():
        result: T = call()
    return result


@contextmanager
def engine_calls() -> Iterator[None]:
    """Mark this thread's S3 calls as the engine's own (botocore will not retry them)."""
    previous = getattr(_local, "active", False)
    _local.active = True
    try:
        yield
    finally:
        _local.active = previous


def no_expect_for_engine(params: dict[str, Any], **_: Any) -> None:
    """``before-call`` for the engine's parts: no ``Expect: 100-continue`` round trip.

    botocore asks for it on file-like bodies only; the engine's parts are
    file-like (to spare the CRT signer a copy) but are sent like the bytes
    bodies they are, in one write, as boto3 sends bytes.
    """
    if getattr(_local, "active", False):
        params["headers"].pop("Expect", None)


def no_retry_for_engine(**_: Any) -> bool | None:
    """``needs-retry`` answer: False (do not retry) for the engine's own calls.

    botocore reads ``False`` as "do not retry" only from 1.44 on; before that
    any non-None answer means "retry now", so :mod:`safes3._hooks` installs
    this only where ``FALSE_MEANS_NO_RETRY`` and the two retry layers stack
    elsewhere.
    """
    return False if getattr(_local, "active", False) else None


def describe(exc: BaseException) -> str:
    """A one-line, secret-free description of a store or network error."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return f"{err.get('Code', 'error')} (HTTP {status}) from {exc.operation_name}"
    return f"{type(exc).__name__}: {exc}"
