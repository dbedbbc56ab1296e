"""A stand-in for urllib3 below safes3's gate: it records what would be written.

botocore hands the fully prepared request (``AWSPreparedRequest``: method,
URL, headers, body, after every event handler) to the client's HTTP session.
safes3's gate wraps that session and keeps the real one as ``_inner``; putting
a :class:`FakeTransport` there means the gate runs exactly as it does in
production, and what it lets through is recorded here instead of being sent.

The answers are canned: a status, headers and a body a test chooses.  They
are faithful to what the client parses (headers into response fields, an XML
body), not to any server's behaviour.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders
from botocore.config import Config as BotocoreConfig

import safes3
from safes3._core._gate import gate_of

__all__ = [
    "ENDPOINT",
    "Answer",
    "FakeTransport",
    "Sent",
    "offline_session",
    "put_under_gate",
]

ENDPOINT = "https://store.invalid:8443"
"""Never resolved: a request that got past the fake would fail to connect."""


@dataclass(frozen=True)
class Answer:
    """What the fake transport answers: status, headers, body."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b"<Result/>"


@dataclass(frozen=True)
class Sent:
    """One request as it would have been written to the socket."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def query_keys(self) -> frozenset[str]:
        query = urlsplit(self.url).query
        return frozenset(p.split("=", 1)[0].lower() for p in query.split("&") if p)


class _Raw:
    """The part of urllib3's response botocore reads: ``stream`` and ``read``."""

    def __init__(self, body: bytes) -> None:
        self._body = io.BytesIO(body)

    def stream(self, amt: int = 1024, decode_content: bool = True) -> Iterator[bytes]:
        while chunk := self._body.read(amt):
            yield chunk

    def read(self, amt: int | None = None, **_: Any) -> bytes:
        return self._body.read(amt)

    def close(self) -> None:
        self._body.close()


def _lowered(request: AWSPreparedRequest) -> dict[str, str]:
    return {
        name.lower(): value.decode("latin-1") if isinstance(value, bytes) else str(value)
        for name, value in request.headers.items()
    }


def _body(request: AWSPreparedRequest) -> bytes | None:
    body: Any = request.body
    if body is None or isinstance(body, bytes):
        return body
    if isinstance(body, bytearray | memoryview):
        return bytes(body)
    if isinstance(body, str):
        return body.encode()
    start = body.tell()
    data = body.read()
    body.seek(start)
    return data if isinstance(data, bytes) else str(data).encode()


class FakeTransport:
    """Records each prepared request in ``sent`` and answers with ``respond(request)``.

    ``_verify`` and ``_proxy_config`` are copied from the session it replaces,
    since the gate reads them to check the CA bundle and the proxies.
    """

    def __init__(
        self, replaced: Any, respond: Callable[[Sent], Answer], sent: list[Sent] | None = None
    ) -> None:
        self._verify = replaced._verify
        self._proxy_config = replaced._proxy_config
        self.respond = respond
        self.sent: list[Sent] = [] if sent is None else sent

    def send(self, request: AWSPreparedRequest) -> AWSResponse:
        sent = Sent(request.method or "", request.url or "", _lowered(request), _body(request))
        self.sent.append(sent)
        answer = self.respond(sent)
        headers = HTTPHeaders()
        for name, value in answer.headers.items():
            headers[name] = value
        return AWSResponse(sent.url, answer.status, headers, _Raw(answer.body))

    def close(self) -> None:
        return


def put_under_gate(client: Any, respond: Callable[[Sent], Answer], sent: list[Sent]) -> None:
    """Replace the HTTP session below ``client``'s gate with a fake recording into ``sent``."""
    gate = gate_of(client)
    if gate is None:
        raise AssertionError("the client has no safes3 gate to put the fake under")
    gate._inner = FakeTransport(gate._inner, respond, sent)


def offline_session(
    encryption: safes3.Encryption,
    respond: Callable[[Sent], Answer],
    **settings: Any,
) -> tuple[safes3.Session, list[Sent]]:
    """A safes3 session whose every client (the janitor's too) answers from ``respond``.

    Returns the session and the list every request is recorded in, in order.
    botocore's retries are off (one attempt), so each call is one request.
    """
    settings.setdefault("store", "generic")
    settings.setdefault("botocore_config", BotocoreConfig(retries={"total_max_attempts": 1}))
    session = safes3.Session(
        encryption=encryption,
        endpoint_url=ENDPOINT,
        region="us-east-1",
        credentials=safes3.StaticCredentials(
            access_key_id="AKIDOFFLINE", secret_access_key="offline-secret-key-0123456789"
        ),
        allow_static_credentials=True,
        **settings,
    )
    sent: list[Sent] = []
    boto = session._boto
    make = boto.client

    def client(*args: Any, **kwargs: Any) -> Any:
        made = make(*args, **kwargs)
        put_under_gate(made, respond, sent)
        return made

    boto.client = client  # type: ignore[method-assign]
    return session, sent
