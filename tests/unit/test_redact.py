"""The redaction of log text, as a pure function (the live path is an integration test)."""

import logging
import sys

from safes3._redact import REDACTED, RedactingFilter, install, redact, register_secret


def test_secret_header_values_are_masked() -> None:
    text = (
        "{'x-amz-server-side-encryption-customer-key': 'QUJD/REVG+R0g=', "
        "'x-amz-server-side-encryption-customer-key-md5': 'bWQ1', "
        "'X-Amz-Security-Token': 'FwoGZXIvYXdzE'}"
    )
    out = redact(text)
    assert "QUJD/REVG+R0g=" not in out
    assert "FwoGZXIvYXdzE" not in out
    assert "'bWQ1'" in out
    assert out.count(REDACTED) == 2


def test_registered_values_are_masked_anywhere() -> None:
    register_secret("s3cr3t-value-123")
    assert redact("x s3cr3t-value-123 y") == f"x {REDACTED} y"


def test_every_secret_bearing_field_is_masked_in_its_usual_spellings() -> None:
    texts = {
        "x-amz-copy-source-server-side-encryption-customer-key: c2VjcmV0LWtleQ==": "c2VjcmV0",
        "{'SSECustomerKey': b'raw-key-bytes-0123'}": "raw-key-bytes",
        "{'CopySourceSSECustomerKey': 'Y29weS1zb3VyY2Uta2V5'}": "Y29weS1zb3VyY2U",
        '{"SessionToken": "IQoJb3JpZ2luX2VjE"}': "IQoJb3JpZ2luX2VjE",
        "aws_secret_access_key = wJalrXUtnFEMIK7MDENG": "wJalrXUtnFEMIK7MDENG",
        "https://h/b/k?X-Amz-Security-Token=FQoGZXIvYXdz&X-Amz-Date=1": "FQoGZXIvYXdz",
    }
    for text, secret in texts.items():
        out = redact(text)
        assert secret not in out, out
        assert REDACTED in out


def test_redaction_is_idempotent_and_keeps_what_is_not_secret() -> None:
    text = "PUT /b/k x-amz-security-token: FwoGZXIvYXdzEXAMPLE etag=abc"
    once = redact(text)
    assert redact(once) == once
    assert once == f"PUT /b/k x-amz-security-token: {REDACTED} etag=abc"


def test_values_too_short_to_be_secrets_are_not_registered() -> None:
    register_secret("short")
    register_secret(None)
    assert redact("a short note") == "a short note"


def test_the_filter_rewrites_the_record_and_its_traceback() -> None:
    key = "ZmlsdGVyLXNlY3JldC1rZXk="
    register_secret(key)
    try:
        raise ValueError(f"bad key {key}")
    except ValueError:
        record = logging.LogRecord("botocore", logging.DEBUG, "f", 1, "sent %s", (key,), None)
        record.exc_info = sys.exc_info()
    assert RedactingFilter().filter(record)
    assert record.getMessage() == f"sent {REDACTED}"
    assert record.exc_text is not None
    assert key not in record.exc_text


def test_records_of_any_logger_are_cleaned_once_installed() -> None:
    install()
    key = "ZmFjdG9yeS1zZWNyZXQta2V5"
    register_secret(key)
    logger = logging.getLogger("tests.redact.newcomer")
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    handler = Keep()
    logger.addHandler(handler)
    try:
        logger.warning("key=%s", key)
    finally:
        logger.removeHandler(handler)
    assert seen == [f"key={REDACTED}"]
