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

from botocore.client import BaseClient
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

from safes3._boundary import describe
from safes3._transfer._settings import TransferSettings

__all__ = [
    "FALSE_MEANS_NO_RETRY",
    "RetryableError",
    "describe",
    "engine_calls",
    "is_retryable",
    "no_expect_for_engine",
    "no_retry_for_engine",
    "quiet_botocore",
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


class _ProbeService:
    class service_id:
        @staticmethod
        def hyphenize() -> str:
            return "safes3-probe"


class _ProbeOperation:
    name = "Probe"
    service_model = _ProbeService


def false_means_no_retry(endpoint_class: Any = None) -> bool:
    """Whether botocore reads a ``needs-retry`` answer of False as "do not retry".

    Asked of botocore itself rather than read from its version: an
    :class:`~botocore.endpoint.Endpoint` with a private emitter whose only
    ``needs-retry`` handler answers False is asked whether to retry.  Older
    releases take any non-None answer as a delay and retry at once; those
    that stop are the ones the engine's handler may be installed on.  Any
    surprise (a changed private signature) counts as "no", the safe side:
    without the handler the layers can stack, but nothing retries forever.
    """
    try:
        if endpoint_class is None:
            from botocore.endpoint import Endpoint as endpoint_class
        from botocore.hooks import HierarchicalEmitter

        emitter = HierarchicalEmitter()
        emitter.register("needs-retry.safes3-probe", lambda **_: False)  # type: ignore[arg-type]
        endpoint = endpoint_class("https://probe.invalid", "s3", emitter)
        answer = endpoint._needs_retry(1, _ProbeOperation, {"context": {}})
        return answer is False
    except Exception:  # noqa: BLE001 - any surprise means "not known to stop"
        return False


FALSE_MEANS_NO_RETRY = false_means_no_retry()
"""botocore stops retrying on a False answer (detected by :func:`false_means_no_retry`)."""


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

    Older botocore releases take any non-None answer as "retry now", so
    :mod:`safes3._core._hooks` installs this only where ``FALSE_MEANS_NO_RETRY``
    (the behaviour, probed at import) and the two retry layers stack
    elsewhere.
    """
    return False if getattr(_local, "active", False) else None


def quiet_botocore(s3: BaseClient) -> None:
    """Tune ``s3`` for the transfer engine's own calls: no botocore retries, no 100-continue."""
    events = s3.meta.events
    events.register(
        "before-call.s3.UploadPart", no_expect_for_engine, unique_id="safes3-transfer-expect"
    )
    if FALSE_MEANS_NO_RETRY:
        events.register_first(
            "needs-retry.s3",
            no_retry_for_engine,  # type: ignore[arg-type]
            unique_id="safes3-transfer-no-retry",
        )
