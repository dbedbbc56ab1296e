"""Keep secrets out of log output, whoever logs them.

botocore logs whole requests at DEBUG (``botocore.endpoint``: "Making request
... with params", ``botocore.auth``: the canonical request), which include the
SSE-C key header and the session token.  A logging filter on one logger would
miss records from its children and from loggers made later, so safes3 wraps
the process's log-record factory once: every record is rendered and, if it
holds a registered secret value or a known secret header, rewritten before
any handler sees it.  Records are only created for enabled levels, so this
costs nothing when debug logging is off.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

__all__ = ["REDACTED", "install", "redact", "register_secret"]

REDACTED = "***"
_MIN_SECRET = 8
_lock = threading.Lock()
_secrets: set[str] = set()
_installed = False

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
    """Make ``value`` disappear from every log record from now on."""
    if value and len(value) >= _MIN_SECRET:
        with _lock:
            _secrets.add(value)
    install()


def redact(text: str) -> str:
    """``text`` with every registered secret and secret-bearing field masked."""
    for secret in tuple(_secrets):
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(r"\1" + REDACTED, text)
    return text


def install() -> None:
    """Wrap the log-record factory once per process (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            try:
                message = record.getMessage()
            except Exception:  # noqa: BLE001
                return record
            cleaned = redact(message)
            if cleaned != message:
                record.msg, record.args = cleaned, None
            return record

        logging.setLogRecordFactory(factory)
        _installed = True
