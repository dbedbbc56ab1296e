"""``safes3._core._hooks`` offline: ``is_guarded``, and the proof handler, read-back and cleanup.

The clients are genuine safes3 clients whose HTTP session below the gate is
a fake (:mod:`tests.support.transport`): its answers are canned per request
(an echo that proves, contradicts or says nothing; a version id; a delete
marker; an error status) and faithful only to what the client parses.  The
tests assert on the requests the client sent in reply, in order.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from typing import Any

import boto3
import pytest

import safes3
from safes3._core._gate import gate_of
from safes3._core._hooks import is_guarded
from tests.support.modes import MODES, Mode
from tests.support.transport import Answer, Sent, offline_session

KMS = MODES[0]
HANDLERS = [
    ("provide-client-params.s3", "safes3-params"),
    ("before-call.s3", "safes3-request"),
    ("after-call.s3", "safes3-proof"),
    ("safes3-guard.s3", "safes3-guard"),
]
_UPLOAD = b"<InitiateMultipartUploadResult><UploadId>u-1</UploadId></InitiateMultipartUploadResult>"


def answering(
    replies: Mapping[str, Answer], mode: Mode = KMS, **settings: Any
) -> tuple[Any, list[Sent]]:
    """A client whose requests are answered by HTTP method (``replies``), else 200 and nothing."""

    def respond(sent: Sent) -> Answer:
        return replies.get(sent.method, Answer())

    session, sent = offline_session(mode.encryption, respond, **settings)
    return session.client(), sent


def calls(sent: list[Sent]) -> list[tuple[str, str, frozenset[str]]]:
    return [(s.method, s.path, s.query_keys) for s in sent]


# ---- is_guarded ---------------------------------------------------------------


def test_a_fresh_client_is_guarded() -> None:
    client, _ = answering({})
    assert is_guarded(client)


@pytest.mark.parametrize(("event", "unique_id"), HANDLERS)
def test_a_client_missing_one_handler_is_not_guarded(event: str, unique_id: str) -> None:
    session, _ = offline_session(KMS.encryption, lambda _: Answer())
    client, other = session.client(), session.client()
    client.meta.events.unregister(event, unique_id=unique_id)
    assert not is_guarded(client)
    assert is_guarded(other), "each client has its own copy of the session's handlers"


def test_a_client_without_its_gate_is_not_guarded() -> None:
    client, _ = answering({})
    gate = gate_of(client)
    assert gate is not None
    client._endpoint.http_session = gate._inner
    assert not is_guarded(client)


def test_a_plain_boto3_client_is_not_guarded() -> None:
    plain = boto3.session.Session().client(
        "s3",
        endpoint_url="https://store.invalid",
        region_name="us-east-1",
        aws_access_key_id="AKIDPLAIN",
        aws_secret_access_key="plain-secret-key-0123456789",
    )
    assert not is_guarded(plain)


def test_the_crt_transfer_client_gets_no_credentials() -> None:
    client, _ = answering({})
    with pytest.raises(safes3.InsecureTransportError, match="CRT"):
        client._get_credentials()


# ---- the transfer methods -------------------------------------------------------


def test_upload_fileobj_goes_through_the_guards() -> None:
    """On safes3's engine: one PutObject, then the read-back that verifies what was stored."""
    stored = {**KMS.echo, "Content-Length": "4"}
    client, sent = answering({"PUT": Answer(headers=KMS.echo), "HEAD": Answer(headers=stored)})
    client.upload_fileobj(io.BytesIO(b"data"), "bkt", "k")
    put, head = sent
    assert (put.method, head.method) == ("PUT", "HEAD")
    assert put.headers["x-amz-server-side-encryption-aws-kms-key-id"] == "key-1"


@pytest.mark.parametrize("extra", [{"ACL": "public-read"}, {"GrantRead": "uri=everyone"}])
def test_upload_fileobj_refuses_acl_extra_args(extra: dict[str, str]) -> None:
    client, sent = answering({})
    with pytest.raises(safes3.ACLRefusedError, match=next(iter(extra))):
        client.upload_fileobj(io.BytesIO(b"data"), "bkt", "k", ExtraArgs=extra)
    assert sent == []


# ---- proof, read-back and cleanup ---------------------------------------------


def _put(client: Any) -> Callable[[], Any]:
    return lambda: client.put_object(Bucket="bkt", Key="k", Body=b"data")


def test_a_contradicting_echo_deletes_the_write_without_a_read_back() -> None:
    client, sent = answering({"PUT": Answer(headers={"x-amz-server-side-encryption": "AES256"})})
    with pytest.raises(safes3.EncryptionNotAppliedError, match="removed") as caught:
        _put(client)()
    assert caught.value.cleaned_up
    assert calls(sent) == [("PUT", "/bkt/k", frozenset()), ("DELETE", "/bkt/k", frozenset())]


def test_a_silent_echo_is_proven_by_a_head_of_the_version_written() -> None:
    client, sent = answering(
        {"PUT": Answer(headers={"x-amz-version-id": "v1"}), "HEAD": Answer(headers=KMS.echo)}
    )
    _put(client)()
    assert calls(sent) == [
        ("PUT", "/bkt/k", frozenset()),
        ("HEAD", "/bkt/k", frozenset({"versionid"})),
    ]
    assert sent[1].url.endswith("versionId=v1")


def test_a_silent_echo_and_a_silent_head_delete_that_version() -> None:
    client, sent = answering({"PUT": Answer(headers={"x-amz-version-id": "v1"})})
    with pytest.raises(safes3.EncryptionNotAppliedError) as caught:
        _put(client)()
    assert caught.value.cleaned_up
    assert calls(sent) == [
        ("PUT", "/bkt/k", frozenset()),
        ("HEAD", "/bkt/k", frozenset({"versionid"})),
        ("DELETE", "/bkt/k", frozenset({"versionid"})),
    ]
    assert sent[2].url.endswith("versionId=v1")


def test_an_unproven_multipart_start_is_aborted() -> None:
    client, sent = answering(
        {"POST": Answer(headers={"x-amz-server-side-encryption": "AES256"}, body=_UPLOAD)}
    )
    with pytest.raises(safes3.EncryptionNotAppliedError) as caught:
        client.create_multipart_upload(Bucket="bkt", Key="k")
    assert caught.value.cleaned_up
    assert calls(sent) == [
        ("POST", "/bkt/k", frozenset({"uploads"})),
        ("DELETE", "/bkt/k", frozenset({"uploadid"})),
    ]
    assert sent[1].url.endswith("uploadId=u-1")


@pytest.mark.parametrize(
    "delete",
    [
        Answer(status=500, body=b"<Error><Code>InternalError</Code></Error>"),
        Answer(status=204, headers={"x-amz-delete-marker": "true"}, body=b""),
    ],
    ids=["delete-fails", "only-a-marker"],
)
def test_a_failed_cleanup_says_so(delete: Answer) -> None:
    """A delete that errs, or only hides the object behind a marker, is not a cleanup."""
    client, sent = answering(
        {"PUT": Answer(headers={"x-amz-server-side-encryption": "AES256"}), "DELETE": delete}
    )
    with pytest.raises(safes3.EncryptionNotAppliedError, match="FAILED") as caught:
        _put(client)()
    assert not caught.value.cleaned_up
    assert [s.method for s in sent] == ["PUT", "DELETE"]


def test_sse_s3_on_a_store_that_ignores_it_gets_a_hint() -> None:
    sse_s3 = next(m for m in MODES if m.name == "sse-s3")
    client, _ = answering({}, sse_s3, store="ceph")
    with pytest.raises(safes3.EncryptionNotAppliedError, match="does not apply SSE-S3"):
        _put(client)()


def test_an_error_answer_is_not_checked_for_proof() -> None:
    client, sent = answering(
        {"PUT": Answer(status=403, body=b"<Error><Code>AccessDenied</Code></Error>")}
    )
    with pytest.raises(client.exceptions.ClientError, match="AccessDenied"):
        _put(client)()
    assert [s.method for s in sent] == ["PUT"]
