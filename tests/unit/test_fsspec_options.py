"""The ``safes3://`` filesystem's description: secret-free, checked, never confused.

Nothing here touches the network: construction checks everything that needs
no store, and the SSE-C key is resolved only when a request needs it.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import fsspec
import pytest

import safes3
from safes3._filesystem._fs import SafeS3FileSystem
from safes3._filesystem._options import FSOptions

ENDPOINT = "https://127.0.0.1:9"
ROLE = "arn:aws:iam::000000000000:role/data"
SECRET = "s3cr3t-AKIA-secret-access-key-value"


def ssec_options(key: bytes, env: str = "SAFES3_UNIT_KEY") -> dict[str, Any]:
    return {
        "encryption": "SSE-C",
        "endpoint_url": ENDPOINT,
        "role_arn": ROLE,
        "ssec_key_env": env,
        "ssec_fingerprint": safes3.SSEC(key).fingerprint,
        "skip_instance_cache": True,
    }


def forms(key: bytes) -> list[bytes]:
    """Every form the key could leak in: raw, base64, and raw as Python would print it."""
    b64 = base64.b64encode(key)
    return [key, b64, repr(key)[2:-1].encode(), base64.urlsafe_b64encode(key)]


def test_serialised_forms_hold_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    key = os.urandom(32)
    monkeypatch.setenv("SAFES3_UNIT_KEY", base64.b64encode(key).decode())
    fs = fsspec.filesystem("safes3", **ssec_options(key))
    assert isinstance(fs, SafeS3FileSystem)
    assert fs.options.resolve_encryption() == safes3.SSEC(key)
    texts = [
        pickle.dumps(fs),
        fs.to_json().encode(),
        repr(fs).encode(),
        json.dumps(fs.storage_options).encode(),
    ]
    for text in texts:
        for leaked in forms(key):
            assert leaked not in text
    clone = pickle.loads(texts[0])  # noqa: S301 - made above
    assert clone.options == fs.options
    assert fsspec.AbstractFileSystem.from_json(fs.to_json()).options == fs.options


def test_different_keys_are_different_instances() -> None:
    one, two = os.urandom(32), os.urandom(32)
    options = ssec_options(one)
    del options["skip_instance_cache"]
    first = fsspec.filesystem("safes3", **options)
    again = fsspec.filesystem("safes3", **options)
    other = fsspec.filesystem(
        "safes3", **{**options, "ssec_fingerprint": safes3.SSEC(two).fingerprint}
    )
    assert first is again
    assert other is not first
    assert other._fs_token != first._fs_token


def test_a_key_that_does_not_match_the_fingerprint_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key, wrong = os.urandom(32), os.urandom(32)
    monkeypatch.setenv("SAFES3_UNIT_KEY", base64.b64encode(wrong).decode())
    fs = SafeS3FileSystem(**ssec_options(key))
    with pytest.raises(safes3.EncryptionConfigError, match="fingerprint") as refused:
        fs.client()
    assert base64.b64encode(wrong).decode() not in str(refused.value)
    file = tmp_path / "key"
    file.write_bytes(key)
    options = {**ssec_options(key), "ssec_key_env": None, "ssec_key_file": str(file)}
    assert SafeS3FileSystem(**options).options.resolve_encryption() == safes3.SSEC(key)


def test_an_unresolvable_key_fails_before_anything_is_sent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SAFES3_UNIT_KEY", raising=False)
    fs = SafeS3FileSystem(**ssec_options(os.urandom(32)))
    with pytest.raises(safes3.EncryptionConfigError, match=r"SAFES3_UNIT_KEY.*unset"):
        fs.client()
    missing = {**ssec_options(os.urandom(32)), "ssec_key_env": None, "ssec_key_file": "/nope/k"}
    with pytest.raises(safes3.EncryptionConfigError, match="cannot read"):
        SafeS3FileSystem(**missing).client()


@pytest.mark.parametrize(
    "extra",
    [
        {"key": "AKIA"},
        {"secret": SECRET},
        {"token": SECRET},
        {"SSECustomerKey": SECRET},
        {"client_kwargs": {"aws_secret_access_key": SECRET}},
    ],
)
def test_secrets_in_storage_options_are_refused(extra: dict[str, Any]) -> None:
    with pytest.raises(safes3.ConfigurationError, match="must not carry secrets") as refused:
        SafeS3FileSystem(encryption="SSE-S3", endpoint_url=ENDPOINT, **extra)
    assert SECRET not in str(refused.value)


def test_plain_http_is_refused_at_construction_and_after_unpickling() -> None:
    with pytest.raises(safes3.InsecureTransportError):
        SafeS3FileSystem(encryption="SSE-S3", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(safes3.InsecureTransportError):
        SafeS3FileSystem(
            encryption="SSE-S3", endpoint_url=ENDPOINT, role_arn=ROLE, sts_endpoint_url="http://h"
        )
    fs = SafeS3FileSystem(encryption="SSE-S3", endpoint_url=ENDPOINT, skip_instance_cache=True)
    tampered = pickle.dumps(fs).replace(ENDPOINT.encode(), b"http://127.0.0.1:99")  # same length
    with pytest.raises(safes3.InsecureTransportError):
        pickle.loads(tampered)  # noqa: S301 - made above


@pytest.mark.parametrize(
    "options",
    [
        {"encryption": "AES256"},
        {"encryption": "SSE-KMS"},
        {"encryption": "SSE-S3", "kms_key_id": "k"},
        {"encryption": "SSE-C", "ssec_key_env": "K"},
        {"encryption": "SSE-C", "ssec_key_env": "not a name", "ssec_fingerprint": "x" * 24},
        {"encryption": "SSE-C", "ssec_key_file": "relative", "ssec_fingerprint": "x" * 24},
        {"encryption": "SSE-S3", "ssec_fingerprint": "x" * 24},
        {"encryption": "SSE-S3", "bucket_acl": "x"},
    ],
)
def test_bad_descriptions_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(safes3.ConfigurationError):
        SafeS3FileSystem(endpoint_url=ENDPOINT, **options)


def test_acl_arguments_are_refused_before_anything_is_sent() -> None:
    fs = SafeS3FileSystem(encryption="SSE-S3", endpoint_url=ENDPOINT, skip_instance_cache=True)
    with pytest.raises(safes3.ACLRefusedError):
        fs.chmod("b/k", "public-read")
    with pytest.raises(safes3.ACLRefusedError):
        fs.open("b/k", "wb", acl="public-read")
    with pytest.raises(safes3.ACLRefusedError):
        fs.pipe_file("b/k", b"x", ACL="public-read")
    with pytest.raises(safes3.ACLRefusedError):
        SafeS3FileSystem(encryption="SSE-S3", endpoint_url=ENDPOINT, acl="private")


def test_storage_options_from_a_config(monkeypatch: pytest.MonkeyPatch) -> None:
    key = os.urandom(32)
    config = safes3.Config(
        encryption=safes3.SSEC(key),
        endpoint_url=ENDPOINT,
        store="ceph",
        credentials=safes3.AssumeRole(role_arn=ROLE, duration_seconds=900),
    )
    monkeypatch.delenv("SAFES3_UNIT_KEY", raising=False)
    options = safes3.fsspec_storage_options(config, ssec_key_env="SAFES3_UNIT_KEY")
    assert options == {
        "encryption": "SSE-C",
        "endpoint_url": ENDPOINT,
        "store": "ceph",
        "role_arn": ROLE,
        "role_duration_seconds": 900,
        "ssec_key_env": "SAFES3_UNIT_KEY",
        "ssec_fingerprint": safes3.SSEC(key).fingerprint,
    }
    monkeypatch.setenv("SAFES3_UNIT_KEY", base64.b64encode(os.urandom(32)).decode())
    with pytest.raises(safes3.EncryptionConfigError, match="fingerprint"):
        safes3.fsspec_storage_options(config, ssec_key_env="SAFES3_UNIT_KEY")
    kms = safes3.Config(encryption=safes3.SSEKMS("key-1"), endpoint_url=ENDPOINT)
    assert safes3.fsspec_storage_options(kms)["kms_key_id"] == "key-1"
    assert FSOptions.from_kwargs(safes3.fsspec_storage_options(kms)).encryption == "SSE-KMS"


def test_credentials_that_cannot_travel_are_refused() -> None:
    static = safes3.StaticCredentials(access_key_id="AKIAEXAMPLE", secret_access_key=SECRET)
    for credentials in (static, safes3.AssumeRole(role_arn=ROLE, source=static)):
        config = safes3.Config(
            encryption=safes3.SSES3(),
            endpoint_url=ENDPOINT,
            credentials=credentials,
            allow_static_credentials=True,
        )
        with pytest.raises(safes3.ConfigurationError, match="cannot travel") as refused:
            safes3.fsspec_storage_options(config)
        assert SECRET not in str(refused.value)


def test_the_protocol_is_found_without_importing_safes3() -> None:
    """fsspec finds ``safes3://`` through the ``fsspec.specs`` entry point alone."""
    code = (
        "import sys, fsspec\n"
        "cls = fsspec.get_filesystem_class('safes3')\n"
        "print(cls.__module__, cls.__name__)\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert found == ["safes3._filesystem._fs", "SafeS3FileSystem"]


def test_sts_answers_are_masked_in_log_text() -> None:
    """Each worker assumes the role itself; botocore logs the STS answer body at DEBUG
    before safes3 can register its values (found by the Dask worker log test)."""
    from safes3._redact import redact

    body = (
        "<Credentials><AccessKeyId>STSKEY</AccessKeyId><SecretAccessKey>SK1EGN2M795O2G"
        "</SecretAccessKey><SessionToken>oYtvWXp6+yji/fj==</SessionToken></Credentials>"
    )
    out = redact(body)
    assert "SK1EGN2M795O2G" not in out
    assert "oYtvWXp6+yji/fj==" not in out
    assert "<AccessKeyId>STSKEY</AccessKeyId>" in out
