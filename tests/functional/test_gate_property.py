"""Arbitrary handlers on arbitrary events; the gate's invariants on everything that arrived.

Hypothesis registers handlers that rewrite URLs, methods and headers at
every event a request passes through (in any position: first, middle,
last), then makes a call.  Whatever the call raised, the records of
:mod:`tests.recorder` must show: nothing on the plain-HTTP port or the port
under another CA, no ACL header anywhere, no ``acl`` or ``publicAccessBlock``
query on anything but a read, and every object read or write that arrived
carrying exactly the policy's SSE-C headers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import safes3
from tests.recorder import Recorder, client_on, recording_server

KEY = safes3.SSEC(b"k" * 32)
EVENTS = ("request-created.s3", "before-sign.s3", "before-send.s3")
CALLS: dict[str, Callable[[Any], Any]] = {
    "put": lambda s3: s3.put_object(Bucket="b", Key="k", Body=b"data"),
    "get": lambda s3: s3.get_object(Bucket="b", Key="k")["Body"].read(),
    "head": lambda s3: s3.head_object(Bucket="b", Key="k"),
    "mpu": lambda s3: s3.create_multipart_upload(Bucket="b", Key="k"),
    "part": lambda s3: s3.upload_part(Bucket="b", Key="k", UploadId="u", PartNumber=1, Body=b"p"),
    "list": lambda s3: s3.list_objects_v2(Bucket="b"),
    "delete": lambda s3: s3.delete_object(Bucket="b", Key="k"),
}


@pytest.fixture(scope="module")
def rec() -> Iterator[Recorder]:
    with recording_server() as server:
        yield server


@pytest.fixture(scope="module")
def s3(rec: Recorder) -> Any:
    """One client; each example registers and then removes its handlers."""
    return client_on(rec, KEY)


def mutations(rec: Recorder) -> st.SearchStrategy[Callable[[Any], None]]:
    def url(fn: Callable[[str], str]) -> Callable[[Any], None]:
        def apply(request: Any) -> None:
            request.url = fn(request.url)

        return apply

    def header(name: str, value: str | None) -> Callable[[Any], None]:
        def apply(request: Any) -> None:
            if value is None:
                if name in request.headers:
                    del request.headers[name]
            else:
                request.headers[name] = value

        return apply

    def method(verb: str) -> Callable[[Any], None]:
        def apply(request: Any) -> None:
            request.method = verb

        return apply

    return st.one_of(
        st.sampled_from(
            [
                url(lambda u: u.replace(rec.https_url, rec.http_url)),
                url(lambda u: u.replace(rec.https_url, rec.other_url)),
                url(lambda u: u.replace("127.0.0.1", "localhost")),
                url(lambda u: u + ("&" if "?" in u else "?") + "acl"),
                url(lambda u: u + ("&" if "?" in u else "?") + "publicAccessBlock"),
                url(lambda u: u.split("?")[0]),
                method("PUT"),
                method("POST"),
                method("DELETE"),
            ]
        ),
        st.builds(
            header,
            st.sampled_from(
                [
                    "x-amz-acl",
                    "x-amz-grant-read",
                    "X-Amz-Grant-Full-Control",
                    "x-amz-server-side-encryption",
                    "x-amz-server-side-encryption-customer-key",
                    "x-amz-server-side-encryption-customer-key-MD5",
                    "x-amz-server-side-encryption-customer-algorithm",
                    "x-amz-copy-source",
                    "Host",
                ]
            ),
            st.one_of(
                st.none(), st.sampled_from(["public-read", "AES256", "aws:kms", "b/k", "evil"])
            ),
        ),
    )


def _invariants(rec: Recorder) -> None:
    assert rec.connections.get("http", 0) == 0
    assert rec.connections.get("other", 0) == 0
    for sent in rec.on("https"):
        assert not any(h.startswith(("x-amz-acl", "x-amz-grant-")) for h in sent.headers)
        changes = sent.method not in {"GET", "HEAD"}
        assert not (changes and sent.query_keys & {"acl", "publicaccessblock"}), sent.target
        on_object = sent.target.split("?")[0].count("/") >= 2
        plain_object = on_object and sent.query_keys <= {"partnumber", "uploadid", "versionid"}
        if (plain_object and sent.method in {"GET", "HEAD", "PUT"}) or "uploads" in sent.query_keys:
            for name, value in KEY.customer_headers.items():
                assert sent.headers.get(name) == value, (sent.method, sent.target, name)
        if on_object and sent.method == "PUT":
            assert "x-amz-server-side-encryption" not in sent.headers


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_gate_invariants_hold_whatever_handlers_do(rec: Recorder, s3: Any, data: Any) -> None:
    rec.clear()
    plan = data.draw(
        st.lists(
            st.tuples(
                st.sampled_from(EVENTS),
                st.sampled_from(["register", "register_first", "register_last"]),
                mutations(rec),
            ),
            min_size=1,
            max_size=3,
        )
    )
    call = data.draw(st.sampled_from(sorted(CALLS)))
    registered = []
    for event, how, mutate in plan:

        def handler(request: Any, _mutate: Callable[[Any], None] = mutate, **_: Any) -> None:
            _mutate(request)

        getattr(s3.meta.events, how)(event, handler)
        registered.append((event, handler))
    try:
        CALLS[call](s3)
    except Exception:  # noqa: BLE001, S110  (refusals and server answers alike; the records decide)
        pass
    finally:
        for event, handler in registered:
            s3.meta.events.unregister(event, handler)
    _invariants(rec)
