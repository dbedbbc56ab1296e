"""Secret hygiene in depth: no copy, no pickle, no blank token, redaction that survives.

Each test is an attack from the issue that first found it: a pickle, a
``dataclasses.asdict``, a ``repr`` of an internal mapping, a blank session
token counted as temporary, an application's own log-record factory.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import io
import logging
import pickle
from collections.abc import Callable
from typing import Any

import pytest
from botocore.credentials import Credentials

import safes3
from safes3._credentials._static import check_temporary

SECRET = "static-secret-key-for-hygiene-tests"
TOKEN = "session-token-for-hygiene-tests"
KEY = safes3.SSEC(b"\x07" * 32)
B64 = base64.b64encode(b"\x07" * 32).decode()

COPIES: list[Callable[[Any], Any]] = [pickle.dumps, copy.copy, copy.deepcopy, vars]


def creds(token: str | None = TOKEN) -> safes3.StaticCredentials:
    return safes3.StaticCredentials(
        access_key_id="AKIDHYGIENE", secret_access_key=SECRET, session_token=token
    )


@pytest.mark.parametrize("copier", COPIES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("holder", [creds(), KEY], ids=["StaticCredentials", "SSEC"])
def test_secret_holders_refuse_every_copy(holder: Any, copier: Callable[[Any], Any]) -> None:
    with pytest.raises(TypeError):
        copier(holder)


def test_structures_holding_them_refuse_too() -> None:
    config = safes3.Config(encryption=KEY, credentials=creds())
    with pytest.raises(TypeError):
        dataclasses.asdict(config)
    with pytest.raises(TypeError):
        pickle.dumps(config)
    role = safes3.AssumeRole(role_arn="arn:aws:iam::000000000000:role/r", source=creds())
    with pytest.raises(TypeError):
        pickle.dumps(role)


def test_internal_mappings_print_no_key() -> None:
    for mapping in (
        KEY.customer_params,
        KEY.customer_headers,
        KEY.source_params,
        KEY.source_headers,
    ):
        assert B64 not in repr(mapping)
        assert B64 not in str(mapping)
        assert B64 in mapping.values()
    assert SECRET not in repr(creds())
    assert TOKEN not in repr(creds())


def test_kms_and_sse_s3_modes_still_pickle() -> None:
    kms = safes3.SSEKMS("key-1", context={"a": "b"}, bucket_key=True)
    assert pickle.loads(pickle.dumps(kms)) == kms  # noqa: S301 (our own bytes)
    assert pickle.loads(pickle.dumps(safes3.SSES3())) == safes3.SSES3()  # noqa: S301


@pytest.mark.parametrize("token", [None, "", "   ", "\t\n"])
def test_blank_tokens_are_long_term_keys(token: str | None) -> None:
    assert creds(token).session_token is None
    with pytest.raises(safes3.StaticCredentialsRefusedError):
        check_temporary(Credentials("AKIDHYGIENE", SECRET, token), allow_static=False)


def test_redaction_survives_the_applications_own_record_factory() -> None:
    safes3.Session(
        encryption=KEY,
        endpoint_url="https://127.0.0.1:1",
        credentials=creds(),
    )
    previous = logging.getLogRecordFactory()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("botocore.endpoint")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logging.setLogRecordFactory(logging.LogRecord)
    try:
        logger.debug("Making request with params: %s", {"headers": dict(KEY.customer_headers)})
        logger.debug("secret %s token %s", SECRET, TOKEN)
    finally:
        logging.setLogRecordFactory(previous)
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    text = stream.getvalue()
    assert "Making request" in text
    assert B64 not in text
    assert SECRET not in text
    assert TOKEN not in text
