"""Construction-time refusals: nothing insecure gets as far as a client."""

from __future__ import annotations

import pytest

import safes3
from safes3 import SSEKMS, Config, ConfigurationError, InsecureTransportError

ENC = SSEKMS("k1")


@pytest.mark.parametrize("url", ["http://127.0.0.1:9000", "HTTP://s3.example", "ftp://x"])
def test_non_https_endpoint_refused(url: str) -> None:
    with pytest.raises(InsecureTransportError, match="not HTTPS"):
        Config(encryption=ENC, endpoint_url=url)


def test_verify_false_refused() -> None:
    with pytest.raises(InsecureTransportError, match="verify=False"):
        Config(encryption=ENC, verify=False)


def test_unknown_store_profile() -> None:
    with pytest.raises(ConfigurationError, match="unknown store profile 'ceph16'"):
        Config(encryption=ENC, endpoint_url="https://x", store="ceph16")


def test_encryption_is_required_to_be_a_mode() -> None:
    with pytest.raises(ConfigurationError, match="encryption must be one of"):
        Config(encryption="AES256")  # type: ignore[arg-type]


def test_config_is_frozen_and_keyword_only() -> None:
    cfg = Config(encryption=ENC)
    with pytest.raises(AttributeError):
        cfg.endpoint_url = "http://x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Config(ENC)  # type: ignore[call-arg]


def test_static_keys_refused_by_default() -> None:
    with pytest.raises(safes3.StaticCredentialsRefusedError, match="assumed role"):
        safes3.Session(
            encryption=ENC,
            endpoint_url="https://127.0.0.1:1",
            credentials=safes3.StaticCredentials(
                access_key_id="AKIDEXAMPLE", secret_access_key="wJalrXUtnFEMI"
            ),
        )


def test_repr_hides_secrets() -> None:
    creds = safes3.StaticCredentials(
        access_key_id="AKIDEXAMPLE", secret_access_key="very-secret-key", session_token="tok-123456"
    )
    cfg = Config(encryption=safes3.SSEC(b"\x01" * 32), credentials=creds)
    for text in (repr(cfg), str(cfg), repr(creds)):
        assert "very-secret-key" not in text
        assert "tok-123456" not in text
