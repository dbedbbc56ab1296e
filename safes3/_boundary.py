"""The one place where foreign errors become safes3's.

Inside the package, botocore, urllib3, ``ssl`` and OS errors travel as they
are: the retry policy needs their types.  Where they would leave a public
function they cross :func:`boundary`, which turns them into the safes3
error of that layer, naming what was being done and the cause once, with no
secret in the message (:func:`describe`).  An answer from the store
(``ClientError``) passes unchanged by default, because callers written for
boto3 catch it; a layer that must say more about it translates it with
``answers=`` into a class that is both (as :class:`TransferClientError` is).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import urllib3.exceptions
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from safes3._exceptions import SafeS3Error

__all__ = ["FOREIGN", "boundary", "describe"]

FOREIGN: tuple[type[BaseException], ...] = (
    BotoCoreError,
    ResponseParserError,
    urllib3.exceptions.HTTPError,
    ssl.SSLError,
    OSError,
)
"""What a network, TLS or file failure, or an answer botocore cannot parse, raises below
safes3 (``ResponseParserError`` derives from ``Exception`` alone)."""


def describe(exc: BaseException) -> str:
    """A one-line, secret-free description of a store, network or file error."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return f"{err.get('Code', 'error')} (HTTP {status}) from {exc.operation_name}"
    return f"{type(exc).__name__}: {exc}"


@contextmanager
def boundary(
    what: str,
    *,
    into: Callable[[str], SafeS3Error],
    answers: Callable[[str, ClientError], BaseException] | None = None,
    passes: tuple[type[BaseException], ...] = (),
) -> Iterator[None]:
    """Foreign errors leaving the block become ``into(message)``, chained to the cause.

    ``what`` says what was being done ("upload of s3://b/k").  safes3's own
    errors pass as they are; a ``ClientError`` too, unless ``answers`` makes
    it into something else; and ``passes``, which the caller's own
    interface promises (fsspec's ``FileNotFoundError``).
    """
    kept: tuple[type[BaseException], ...] = (SafeS3Error, *passes)
    try:
        yield
    except kept:
        raise
    except ClientError as exc:
        if answers is None:
            raise
        raise answers(f"{what}: {describe(exc)}", exc) from exc
    except FOREIGN as exc:
        raise into(f"{what} failed: {describe(exc)}") from exc
