"""Every S3 operation under every encryption mode, through a real client to a fake transport.

The client is a genuine safes3 client; only the HTTP session below its gate
(:mod:`tests.support.transport`) is replaced, so every event handler and the
gate run as in production and what they let through is recorded as it would
be written.  The canned answers echo the mode's encryption headers with a
minimal XML body; they are faithful to what the client parses, not to a
store.  Assertions are on the recorded requests.
"""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import urlsplit

import pytest

import safes3
from safes3._core._operations import NEVER, OPERATIONS, Kind
from safes3._core._routes import Router, path_kind
from safes3._core._rules import rules_for
from tests.support.modes import KEY, MODES, OTHER_KEY, Mode, md5_of
from tests.support.operations import COPY_SOURCE_OPERATIONS, CREATING, SSEC_OPERATIONS, WRITES
from tests.support.params import MODEL, input_members, method_name, params_for
from tests.support.transport import Answer, Sent, offline_session

NAMES = sorted(MODEL.operation_names)
RULES = rules_for(MODEL)
ROUTER = Router(MODEL)
INSPECTED = frozenset(n for n, c in OPERATIONS.items() if c.inspector is not None) - NEVER
UNROUTABLE = frozenset({"WriteGetObjectResponse"})
_SSE = "server-side-encryption"


def client_for(mode: Mode, allow: bool = True) -> tuple[Any, list[Sent]]:
    """A client of ``mode`` (allowed every loosening operation, or none), and its record."""
    return _client_for(mode.name, allow)


@functools.cache
def _client_for(name: str, allow: bool) -> tuple[Any, list[Sent]]:
    mode = next(m for m in MODES if m.name == name)
    session, sent = offline_session(
        mode.encryption,
        lambda _: Answer(headers=mode.echo),
        allow_operations=INSPECTED if allow else frozenset(),
    )
    return session.client(), sent


def call(mode: Mode, name: str, *, allow: bool = True, **extra: Any) -> list[Sent]:
    """Run ``name`` with its required parameters (plus ``extra``); what reached the fake."""
    client, sent = client_for(mode, allow)
    sent.clear()
    getattr(client, method_name(name))(**{**params_for(name), **extra})
    return list(sent)


def refused(
    mode: Mode, name: str, error: type[Exception], *, allow: bool = True, **extra: Any
) -> None:
    client, sent = client_for(mode, allow)
    sent.clear()
    with pytest.raises(error):
        getattr(client, method_name(name))(**{**params_for(name), **extra})
    assert sent == [], f"{name} reached the transport"


def encryption_headers(request: Sent) -> dict[str, str]:
    return {k: v for k, v in request.headers.items() if _SSE in k}


def expected_headers(mode: Mode, name: str) -> dict[str, str]:
    expected: dict[str, str] = {}
    if mode.ssec:
        if name in SSEC_OPERATIONS:
            expected.update(mode.customer_headers)
        if name in COPY_SOURCE_OPERATIONS:
            expected.update(mode.source_headers)
    elif name in CREATING:
        expected.update(mode.object_headers)
    return expected


@pytest.mark.parametrize("mode", MODES, ids=str)
@pytest.mark.parametrize("name", NAMES)
def test_each_operation_carries_exactly_its_encryption_headers(name: str, mode: Mode) -> None:
    if name in NEVER:
        refused(mode, name, safes3.ACLRefusedError)
        return
    if name in UNROUTABLE:
        refused(mode, name, safes3.OperationRefusedError)
        return
    first, *after = call(mode, name)
    assert encryption_headers(first) == expected_headers(mode, name)
    assert not [h for h in first.headers if h.startswith(("x-amz-acl", "x-amz-grant-"))]
    parts = urlsplit(first.url)
    kind = path_kind(parts.path, bucket_in_host=False)
    assert name in ROUTER.operations(first.method, kind, parts.query, frozenset(first.headers))
    if mode.ssec and name == "CompleteMultipartUpload":
        [head] = after
        assert head.method == "HEAD"
        assert head.path == first.path
        assert encryption_headers(head) == mode.customer_headers
    else:
        assert after == []


_GRANT_ALL = [
    {"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"}}
]
LOOSENING_EXTRA: dict[str, dict[str, Any]] = {
    "CreateBucket": {"ObjectOwnership": "ObjectWriter"},
    "RestoreObject": {
        "RestoreRequest": {
            "OutputLocation": {
                "S3": {"BucketName": "o", "Prefix": "p", "AccessControlList": _GRANT_ALL}
            }
        }
    },
    "PutBucketVersioning": {
        "VersioningConfiguration": {"MFADelete": "Disabled", "Status": "Enabled"},
        "MFA": "serial 123456",
    },
}
"""What makes the few operations whose required parameters loosen nothing loosen something."""


@pytest.mark.parametrize("name", sorted(INSPECTED))
def test_loosening_operations_need_allowing(name: str) -> None:
    """Each inspected operation, loosening something, is refused unless allowed.

    The inspectors read access and bucket settings, never the encryption
    mode, so one mode is enough here.
    """
    mode = MODES[0]
    refused(mode, name, safes3.OperationRefusedError, allow=False, **LOOSENING_EXTRA.get(name, {}))
    if name in LOOSENING_EXTRA:
        assert len(call(mode, name, allow=False)) == 1


def _foreign(mode: Mode) -> list[dict[str, Any]]:
    """Encryption parameters a write must not carry under ``mode``."""
    found: list[dict[str, Any]] = [
        {"SSEKMSKeyId": "another-key"},
        {"SSEKMSEncryptionContext": "e30="},
        {"BucketKeyEnabled": True},
        {"BucketKeyEnabled": False},
        {"SSECustomerKey": OTHER_KEY},
        {"SSECustomerAlgorithm": "AES512"},
        {"ServerSideEncryption": "AES256"},
        {"ServerSideEncryption": "aws:kms"},
    ]
    if not mode.ssec:
        found.append({"SSECustomerKey": KEY})
    own = {**mode.object_params, **mode.customer_params}
    return [p for p in found if not p.items() <= own.items()]


FOREIGN = [
    pytest.param(
        mode, name, extra, id=f"{mode}-{name}-{'-'.join(f'{k}={v}' for k, v in extra.items())[:60]}"
    )
    for mode in MODES
    for name in sorted(WRITES)
    for extra in _foreign(mode)
    if set(extra) <= set(input_members(name))
]


@pytest.mark.parametrize(("mode", "name", "extra"), FOREIGN)
def test_foreign_encryption_on_a_write_never_reaches_the_wire(
    mode: Mode, name: str, extra: dict[str, Any]
) -> None:
    """Refused by apply_params or, where it lets the parameter through, by the gate."""
    refused(mode, name, safes3.EncryptionConflictError, **extra)


@pytest.mark.parametrize("mode", [m for m in MODES if not m.ssec], ids=str)
@pytest.mark.parametrize("name", sorted(SSEC_OPERATIONS - WRITES))
def test_an_sse_c_object_can_be_read_under_any_policy(name: str, mode: Mode) -> None:
    """A read names the object's own key; only writes are held to the policy.

    SelectObjectContent included: a POST with a Key and an SSE-C key, but a read.
    """
    [first] = call(mode, name, SSECustomerKey=OTHER_KEY)
    assert first.headers[f"x-amz-{_SSE}-customer-key-md5"] == md5_of(OTHER_KEY)


@pytest.mark.parametrize("name", NAMES)
def test_the_table_and_the_rules_agree_on_what_writes(name: str) -> None:
    """The gate's table and the handlers' rules classify the same operations as writes."""
    rule = RULES[name]
    writes = OPERATIONS[name].kind is Kind.WRITE
    if rule.creates_object:
        assert writes
    assert rule.is_write is writes
    assert rule.refused is (name in NEVER)


def test_restore_output_is_written_under_the_policy() -> None:
    """A SELECT restore writes its result as new objects under OutputLocation.

    The policy's encryption is not put there, so a restore with an output
    location is refused unless ``allow_operations`` names RestoreObject.
    """
    mode = MODES[0]
    request = {
        "Type": "SELECT",
        "OutputLocation": {"S3": {"BucketName": "out", "Prefix": "results/"}},
        "SelectParameters": {
            "InputSerialization": {"CSV": {}},
            "ExpressionType": "SQL",
            "Expression": "select * from s3object",
            "OutputSerialization": {"CSV": {}},
        },
    }
    refused(mode, "RestoreObject", safes3.SafeS3Error, allow=False, RestoreRequest=request)
