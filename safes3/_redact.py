"""Keep secrets out of log output, whoever logs them.

botocore logs whole requests at DEBUG (``botocore.endpoint``: "Making request
... with params", ``botocore.auth``: the canonical request), which include the
SSE-C key header and the session token.  Two layers rewrite such records
before any handler formats them:

- a filter on every logger of the libraries that see requests (botocore,
  boto3, s3transfer, urllib3, safes3) and on the handlers that exist when a
  session is made: it holds even when the application later installs its
  own log-record factory;
- a wrapper around the process's log-record factory, for records from
  loggers that did not exist yet.

Records are only created for enabled levels, so this costs nothing when
debug logging is off.  Not covered: ``http.client``'s ``debuglevel``, which
prints to stdout without the logging module.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

__all__ = ["REDACTED", "attach", "install", "redact", "register_secret"]

REDACTED = "***"
_MIN_SECRET = 8
_lock = threading.Lock()
_secrets: set[str] = set()
_installed = False
_LOGGER_PREFIXES = ("botocore", "boto3", "s3transfer", "urllib3", "safes3")

_PATTERNS = [
    re.compile(
        r"((?:x-amz-(?:copy-source-)?server-side-encryption-customer-key|x-amz-security-token"
        r"|(?:CopySource)?SSECustomerKey|SessionToken|aws_session_token|SecretAccessKey"
        r"|aws_secret_access_key|X-Amz-Security-Token)['\"]?\s*[:=]\s*b?['\"]?)"
        r"(?!\*\*\*)([^'\",&}\s]+)",
        re.IGNORECASE,
    ),
    # STS answers, which botocore logs at DEBUG before safes3 can register the values.
    re.compile(r"(<(?:SecretAccessKey|SessionToken)>)([^<]+)"),
]


def register_secret(value: str | None) -> None:
    """Make ``value`` disappear from every log record from now on.

    A value already registered costs a set lookup: the guards register the
    SSE-C key a request names on each request, and attaching the filters
    walks every logger.
    """
    new = False
    if value and len(value) >= _MIN_SECRET:
        with _lock:
            new = value not in _secrets
            _secrets.add(value)
    if new or not _installed:
        install()


def redact(text: str) -> str:
    """``text`` with every registered secret and secret-bearing field masked."""
    for secret in tuple(_secrets):
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(r"\1" + REDACTED, text)
    return text


def _clean(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001
        return
    cleaned = redact(message)
    if cleaned != message:
        record.msg, record.args = cleaned, None
    if record.exc_info and record.exc_text is None:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))


class RedactingFilter(logging.Filter):
    """Rewrites a record in place; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        _clean(record)
        return True


_FILTER = RedactingFilter()


def attach() -> None:
    """Put the filter on the libraries' loggers and on every handler that exists now."""
    manager = logging.Logger.manager
    names = [n for n in list(manager.loggerDict) if n.split(".")[0] in _LOGGER_PREFIXES]
    loggers = [logging.getLogger(n) for n in (*_LOGGER_PREFIXES, *names)]
    for logger in [*loggers, logging.getLogger()]:
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
        for handler in logger.handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)


def install() -> None:
    """Wrap the log-record factory once per process and attach the filters."""
    global _installed
    with _lock:
        if not _installed:
            previous = logging.getLogRecordFactory()

            def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
                record = previous(*args, **kwargs)
                _clean(record)
                return record

            logging.setLogRecordFactory(factory)
            _installed = True
    attach()
