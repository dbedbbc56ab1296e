"""Encryption modes: validation in the constructor, no key in any text form."""

from __future__ import annotations

import base64
import hashlib
import json
import pickle

import pytest

from safes3 import SSEC, SSEKMS, SSES3, EncryptionConfigError

KEY = bytes(range(32))


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
def test_ssec_key_must_be_32_bytes(size: int) -> None:
    with pytest.raises(EncryptionConfigError, match=f"got {size} bytes, need exactly 32"):
        SSEC(b"k" * size)


def test_ssec_refuses_text_keys_with_a_pointer_to_from_base64() -> None:
    with pytest.raises(EncryptionConfigError, match="from_base64"):
        SSEC("k" * 32)  # type: ignore[arg-type]


def test_ssec_precomputes_header_values() -> None:
    key = SSEC(KEY)
    b64 = base64.b64encode(KEY).decode()
    md5 = base64.b64encode(hashlib.md5(KEY).digest()).decode()  # noqa: S324
    assert key.customer_params == {
        "SSECustomerAlgorithm": "AES256",
        "SSECustomerKey": b64,
        "SSECustomerKeyMD5": md5,
    }
    assert key.source_headers["x-amz-copy-source-server-side-encryption-customer-key-md5"] == md5
    assert key.fingerprint == md5


def test_ssec_key_never_in_repr_str_or_pickle() -> None:
    key = SSEC(KEY)
    b64 = base64.b64encode(KEY).decode()
    for text in (repr(key), str(key), f"{key}", repr([key])):
        assert b64 not in text
        assert repr(KEY)[2:-1] not in text
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(key)


def test_ssec_is_immutable_and_compares_by_key() -> None:
    key = SSEC(KEY)
    with pytest.raises(AttributeError):
        key.key_md5 = "x"
    assert key == SSEC.from_base64(base64.b64encode(KEY).decode())
    assert key != SSEC(bytes(32))
    assert key.same_key(KEY)
    assert key.same_key(base64.b64encode(KEY).decode())
    assert not key.same_key(bytes(32))


def test_ssec_from_bad_base64() -> None:
    with pytest.raises(EncryptionConfigError, match="not valid base64"):
        SSEC.from_base64("not base64!!")


def test_ssekms_params_and_context() -> None:
    mode = SSEKMS("safes3-key-1", context={"app": "x"}, bucket_key=True)
    assert mode.object_params["ServerSideEncryption"] == "aws:kms"
    assert mode.object_params["SSEKMSKeyId"] == "safes3-key-1"
    decoded = json.loads(base64.b64decode(mode.object_params["SSEKMSEncryptionContext"]))
    assert decoded == {"app": "x"}
    assert mode.object_headers["x-amz-server-side-encryption-bucket-key-enabled"] == "true"


@pytest.mark.parametrize("bad", ["", "has space", "a" * 3000])
def test_ssekms_rejects_bad_key_ids(bad: str) -> None:
    with pytest.raises(EncryptionConfigError, match="KMS key id"):
        SSEKMS(bad)


def test_ssekms_rejects_empty_context() -> None:
    with pytest.raises(EncryptionConfigError, match="context"):
        SSEKMS("k1", context={})


def test_ssekms_matches_reported_key_forms() -> None:
    mode = SSEKMS("1234abcd-12ab-34cd-56ef-1234567890ab")
    assert mode.matches_key("1234abcd-12ab-34cd-56ef-1234567890ab")
    assert mode.matches_key(
        "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )
    assert not mode.matches_key("arn:aws:kms:us-east-1:111122223333:key/other")
    assert not mode.matches_key(None)


def test_proof_problems() -> None:
    assert SSES3().proof_problem({"ServerSideEncryption": "AES256"}, require=True) is None
    assert SSES3().proof_problem({}, require=True) is not None
    assert SSES3().proof_problem({}, require=False) is None
    kms = SSEKMS("k1")
    assert (
        kms.proof_problem({"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "k1"}, require=True)
        is None
    )
    assert kms.proof_problem({"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "k2"}, require=True)
    key = SSEC(KEY)
    assert key.proof_problem({"SSECustomerKeyMD5": key.key_md5}, require=True) is None
    assert (
        key.proof_problem({"SSECustomerKeyMD5": f"{key.key_md5}, {key.key_md5}"}, require=True)
        is None
    )
    assert key.proof_problem({"SSECustomerKeyMD5": "other"}, require=True)
