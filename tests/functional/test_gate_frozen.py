"""Attacks that give the gate one request and the socket another, and what reached the wire.

Each was found by a review that attacked the first version of the gate: a
string subclass that answers the gate differently from the socket, URLs that
urllib3 and botocore read differently, a Content-Length shorter than the
body, hosts under ``amazonaws.com`` that are not S3, an endpoint from the
environment.  The recorder (:mod:`tests.recorder`) tells what arrived where.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import Any

import pytest

import safes3
from safes3._core._gate import Gate
from tests.recorder import Recorder, client_on, recording_server

KEY = safes3.SSEC(b"f" * 32)


@pytest.fixture(scope="module")
def rec() -> Iterator[Recorder]:
    with recording_server() as server:
        yield server


@pytest.fixture
def s3(rec: Recorder) -> Any:
    rec.clear()
    return client_on(rec, KEY)


class _Two(str):
    """A string whose methods answer the gate one way and its value another."""

    def upper(self) -> str:
        return "GET"

    def lower(self) -> str:
        return "x-harmless"

    def __str__(self) -> str:
        return "https://elsewhere/"


def _on_send(s3: Any, change: Any) -> None:
    s3.meta.events.register_last("before-send.s3", lambda request, **_: change(request))


def test_a_method_that_lies_to_the_gate(rec: Recorder, s3: Any) -> None:
    _on_send(s3, lambda r: setattr(r, "method", _Two("PUT")))
    with pytest.raises(safes3.InsecureTransportError, match="plain string"):
        s3.get_bucket_acl(Bucket="b")
    assert rec.requests == []


def test_a_header_name_that_lies_to_the_gate(rec: Recorder, s3: Any) -> None:
    _on_send(s3, lambda r: r.headers.__setitem__(_Two("x-amz-acl"), "public-read"))
    with pytest.raises(safes3.InsecureTransportError, match="plain string"):
        s3.put_object(Bucket="b", Key="k", Body=b"x")
    assert rec.requests == []


def test_a_url_that_reads_differently_to_the_connection(rec: Recorder, s3: Any) -> None:
    other_port = rec.other_url.rsplit(":", 1)[1]
    store = rec.https_url.split("//")[1]
    _on_send(s3, lambda r: setattr(r, "url", f"https://127.0.0.1:{other_port}\\@{store}/b/k"))
    with pytest.raises(safes3.InsecureTransportError, match="URL"):
        s3.put_object(Bucket="b", Key="k", Body=b"x")
    assert rec.connections.get("other", 0) == 0


def test_path_parameters_botocore_would_drop(rec: Recorder, s3: Any) -> None:
    _on_send(s3, lambda r: setattr(r, "url", r.url.rsplit("/", 1)[0] + "/;x"))
    with pytest.raises(safes3.InsecureTransportError, match="URL"):
        s3.put_object(Bucket="b", Key="k", Body=b"x")
    assert rec.requests == []


def test_a_short_content_length_cannot_smuggle_a_second_request(rec: Recorder, s3: Any) -> None:
    smuggled = (
        b"xPUT /b/public HTTP/1.1\r\nHost: 127.0.0.1\r\nx-amz-acl: public-read\r\n"
        b"Content-Length: 9\r\n\r\nplaintext"
    )

    def shorten(request: Any) -> None:
        request.body = smuggled
        request.headers["Content-Length"] = "1"

    _on_send(s3, shorten)
    with pytest.raises(safes3.InsecureTransportError, match="Content-Length"):
        s3.put_object(Bucket="b", Key="k", Body=b"x")
    assert rec.requests == []


def test_a_stream_body_is_cut_at_its_declared_length(rec: Recorder, s3: Any) -> None:
    import io

    def stream(request: Any) -> None:
        request.body = io.BytesIO(b"1234" + b"PUT /b/p HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        request.headers["Content-Length"] = "4"

    _on_send(s3, stream)
    s3.put_object(Bucket="b", Key="k", Body=b"1234")
    assert [(r.method, r.target, r.body) for r in rec.on("https")] == [("PUT", "/b/k", b"1234")]


def test_a_body_that_changes_after_inspection_is_sent_as_inspected(rec: Recorder, s3: Any) -> None:
    """The inspected bytes are what is sent, whatever the stream does on a second read."""
    import io

    tight = (
        b"<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls>"
        b"<IgnorePublicAcls>true</IgnorePublicAcls><BlockPublicPolicy>true</BlockPublicPolicy>"
        b"<RestrictPublicBuckets>true</RestrictPublicBuckets></PublicAccessBlockConfiguration>"
    )

    class Turncoat(io.BytesIO):
        reads = 0

        def read(self, size: int | None = -1) -> bytes:
            Turncoat.reads += 1
            data = super().read(size)
            return data if Turncoat.reads == 1 else data.replace(b"true", b"fals")

    def swap(request: Any) -> None:
        request.body = Turncoat(tight)
        request.headers["Content-Length"] = str(len(tight))

    _on_send(s3, swap)
    on = dict.fromkeys(
        ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
    )
    s3.put_public_access_block(Bucket="b", PublicAccessBlockConfiguration=on)
    [sent] = rec.on("https")
    assert sent.body == tight


@pytest.mark.parametrize(
    ("host", "allowed", "bucket_in_host"),
    [
        ("s3.amazonaws.com", True, False),
        ("s3.eu-west-1.amazonaws.com", True, False),
        ("s3-eu-west-1.amazonaws.com", True, False),
        ("s3.dualstack.us-east-1.amazonaws.com", True, False),
        ("data.s3.us-west-2.amazonaws.com", True, True),
        ("s3-data.s3.us-west-2.amazonaws.com", True, True),
        ("s3.data.s3.amazonaws.com", True, True),
        ("b.s3-accelerate.amazonaws.com", True, True),
        ("abc123.execute-api.us-east-1.amazonaws.com", False, False),
        ("123456789012.s3-control.us-east-1.amazonaws.com", False, False),
        ("attacker.amazonaws.com", False, False),
        ("s3.amazonaws.com.evil.example", False, False),
    ],
)
def test_aws_hosts_are_s3_hosts_only(host: str, allowed: bool, bucket_in_host: bool) -> None:
    gate = Gate(object(), endpoint_url="https://s3.amazonaws.com", ca_path="x", aws=True)
    assert gate._host_allowed(host) is allowed
    assert gate.bucket_in_host(host) is bucket_in_host


def test_endpoints_from_the_environment_are_ignored(
    rec: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", rec.https_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", rec.https_url)
    s3 = safes3.client(
        encryption=KEY,
        ca_bundle=rec.ca_bundle,
        region="us-east-1",
        credentials=safes3.StaticCredentials(
            access_key_id="AKIDENV", secret_access_key="env-secret-key-0123456789"
        ),
        allow_static_credentials=True,
    )
    assert s3.meta.endpoint_url.endswith("amazonaws.com")


def test_sslkeylogfile_is_refused(
    rec: Recorder, s3: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("SSLKEYLOGFILE", str(tmp_path / "keys.log"))
    with pytest.raises(safes3.InsecureTransportError, match="SSLKEYLOGFILE"):
        s3.list_objects_v2(Bucket="b")
    assert rec.connections.get("https", 0) == 0
    assert not (tmp_path / "keys.log").exists()


def test_the_policy_header_cache_never_shows_the_key(rec: Recorder, s3: Any) -> None:
    s3.put_object(Bucket="b", Key="k", Body=b"x")
    session = safes3.Session(
        encryption=KEY,
        endpoint_url=rec.https_url,
        ca_bundle=rec.ca_bundle,
        store="generic",
        region="us-east-1",
        credentials=safes3.StaticCredentials(
            access_key_id="AKIDCACHE", secret_access_key="cache-secret-key-0123456789"
        ),
        allow_static_credentials=True,
    )
    session.client().put_object(Bucket="b", Key="k", Body=b"x")
    secret = KEY.customer_params["SSECustomerKey"]
    assert session.policy.required
    assert secret not in repr(session.policy.required)
    with pytest.raises(TypeError):
        pickle.dumps(session.policy.required)
