"""The redaction of log text, as a pure function (the live path is an integration test)."""

from safes3._redact import REDACTED, redact, register_secret


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
