"""The last gate: every request is checked as it leaves, at the HTTP layer.

Event handlers run in an order the application can change: a handler
registered after safes3's may rewrite the URL, add an ACL header or drop
the encryption headers.  The only place that sees the request exactly as it
will be written to the socket is the client's HTTP session
(``client._endpoint.http_session.send``), after every handler.  Each client
safes3 builds gets its HTTP session wrapped here, so whatever reached that
point is checked again: scheme and host, the CA the connection is verified
with, proxies that would see plaintext, ACL headers, the operation the
request really is (read back from its route), and the exact encryption
headers that operation must carry.

This reaches into two private botocore attributes (``_endpoint`` and
``http_session``); ``tests/unit/test_gate.py`` fails if botocore moves them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from botocore.awsrequest import HeadersDict

from safes3._exceptions import ACLRefusedError, InsecureTransportError, OperationRefusedError
from safes3._operations import NEVER, OPERATIONS, Kind, loosening
from safes3._routes import Router, path_kind
from safes3._rules import OperationRule, Policy, rules_for

__all__ = [
    "Gate",
    "S3Gate",
    "StsGate",
    "gate_of",
    "guarded_base",
    "install_gate",
    "refuse_loosening",
    "sts_base",
]

_ACL_PREFIXES = ("x-amz-acl", "x-amz-grant-")
_SSE_HEADER = "x-amz-server-side-encryption"
_AWS_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn")


class Gate:
    """Wraps one botocore HTTP session; refuses what must not leave the process."""

    def __init__(self, inner: Any, *, endpoint_url: str, ca_path: str, aws: bool) -> None:
        parts = urlsplit(endpoint_url)
        self._inner = inner
        self._host = (parts.hostname or "").lower()
        self._port = parts.port or 443
        self._ca_path = ca_path
        self._aws = aws

    def send(self, request: Any) -> Any:
        self.check(request)
        return self._inner.send(request)

    def close(self) -> None:
        self._inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def check(self, request: Any) -> None:
        """Raise unless ``request`` may be sent as it is."""
        parts = urlsplit(str(request.url))
        where = f"{request.method} {parts.scheme}://{parts.netloc}{parts.path}"
        if parts.scheme.lower() != "https":
            raise InsecureTransportError(
                f"{where} is not HTTPS; it was not sent (a later event handler or a "
                "setting changed the URL: safes3 sends nothing without verified TLS)"
            )
        host = (parts.hostname or "").lower()
        if (parts.port or 443) != self._port or not self._host_allowed(host):
            raise InsecureTransportError(
                f"{where} is not the configured endpoint {self._host}:{self._port}; it was "
                "not sent (the request was redirected after safes3's checks)"
            )
        if self._inner._verify != self._ca_path:
            raise InsecureTransportError(
                f"{where} would not be verified with safes3's CA bundle "
                f"({self._inner._verify!r} instead); it was not sent"
            )
        proxies = self._inner._proxy_config
        forwarding = proxies.settings.get("proxy_use_forwarding_for_https")
        proxy = proxies.proxy_url_for(request.url) if forwarding else None
        if proxy:
            raise InsecureTransportError(
                f"{where} would be forwarded in the clear to the proxy {urlsplit(proxy).netloc} "
                "(proxy_use_forwarding_for_https); it was not sent. Drop that setting: a "
                "tunnelling proxy never sees the request"
            )
        self.check_request(request, parts, host)

    def check_request(self, request: Any, parts: Any, host: str) -> None:
        """Service-specific checks; the base checks only the transport."""

    def _host_allowed(self, host: str) -> bool:
        if host == self._host:
            return True
        if self._aws:
            return host.endswith(_AWS_SUFFIXES)
        return host.endswith("." + self._host)

    def bucket_in_host(self, host: str) -> bool:
        if host == self._host:
            return False
        if self._aws:
            return not host.startswith(("s3.", "s3-"))
        return True


def _headers(request: Any, where: str) -> Mapping[str, Any]:
    """The headers, readable by lower-case name.

    botocore's own ``HeadersDict`` is case-insensitive and cannot hold a name
    twice, so it is used as it is; anything else a handler put there is copied
    and a repeated ``x-amz-*`` or ``host`` header (which urllib3 would send
    twice) is refused.
    """
    headers = request.headers
    if type(headers) is HeadersDict:
        return _Lowered(headers)
    found: dict[str, str] = {}
    for name, value in request.headers.items():
        low = name.lower()
        text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        if low in found and (low.startswith("x-amz-") or low == "host"):
            raise InsecureTransportError(f"{where} carries {low} twice; it was not sent")
        found[low] = text
    return found


class _Lowered(Mapping[str, str]):
    """A ``HeadersDict`` seen through lower-case names, without copying values."""

    def __init__(self, headers: HeadersDict) -> None:
        self._headers = headers
        self._names = [name.lower() for name in headers]

    def __getitem__(self, name: str) -> str:
        value = self._headers[name]
        return value.decode("latin-1") if isinstance(value, bytes) else str(value)

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


class S3Gate(Gate):
    """The gate of an S3 client: the transport, then the operation and its headers."""

    def __init__(
        self,
        inner: Any,
        *,
        endpoint_url: str,
        ca_path: str,
        aws: bool,
        policy: Policy,
        service_model: Any,
        allowed: Collection[str],
        guards: Any,
    ) -> None:
        super().__init__(inner, endpoint_url=endpoint_url, ca_path=ca_path, aws=aws)
        self.policy = policy
        self.guards = guards
        self._router = Router(service_model)
        self._rules = rules_for(service_model)
        self._allowed = frozenset(allowed)

    def check_request(self, request: Any, parts: Any, host: str) -> None:
        where = f"{request.method} {parts.path}"
        wire = _headers(request, where)
        names = frozenset(wire)
        for name in names:
            if name.startswith(_ACL_PREFIXES):
                raise ACLRefusedError(
                    f"{where} carries the ACL header {name!r} (added after safes3's checks, "
                    "e.g. by another event handler); it was not sent"
                )
        stated_host = wire.get("host")
        if stated_host is not None and stated_host.split(":")[0].lower() != host:
            raise InsecureTransportError(f"{where} names another Host ({stated_host}); not sent")
        kind = path_kind(parts.path, bucket_in_host=self.bucket_in_host(host))
        found = self._router.operations(request.method, kind, parts.query, names)
        if not found:
            raise OperationRefusedError(
                f"{where}?{parts.query} is no S3 operation safes3 knows; it was not sent",
                operation=None,
            )
        for name in found:
            self._check_operation(name, wire, names, request.body)

    def _check_operation(
        self, name: str, wire: Mapping[str, Any], names: frozenset[str], body: Any
    ) -> None:
        known = OPERATIONS.get(name)
        if known is None:
            raise OperationRefusedError(
                f"{name} is not in safes3's operation table (a newer botocore?); it was not "
                "sent. Upgrade safes3, which classifies every operation it lets through",
                operation=name,
            )
        if name in NEVER:
            refuse_loosening(name, "it changes an ACL", known.kind, ())
        if known.inspector is not None:
            problem = loosening(name, wire, _body_bytes(body))
            if problem is not None:
                refuse_loosening(name, problem, known.kind, self._allowed)
        rule = self._rules[name]
        for header, value in self.policy.required_headers(rule):
            if wire.get(header) != value:
                raise self.policy.missing_header(rule, header)
        _check_foreign_encryption(rule, self.policy, names)


def refuse_loosening(name: str, problem: str, kind: Kind, allowed: Collection[str]) -> None:
    """Raise for an access or encryption change, unless the settings allow ``name``."""
    if name in NEVER:
        raise ACLRefusedError(
            f"{name} is refused: {problem}. safes3 never changes ACLs; grant access with "
            "IAM or bucket policies instead (see `safes3 policy`)"
        )
    if name in allowed:
        return
    what = "encryption" if kind is Kind.ENCRYPTION else "access"
    raise OperationRefusedError(
        f"{name} is refused because it would loosen {what}: {problem}. If that is really "
        f"meant, build the client with safes3.Config(..., allow_operations={{'{name}'}})",
        operation=name,
    )


def _check_foreign_encryption(rule: OperationRule, policy: Policy, wire: frozenset[str]) -> None:
    """A write carries no encryption header but the ones its rule requires."""
    if not rule.is_write:
        return
    required = {name for name, _ in policy.required_headers(rule)}
    for name in wire:
        if name.startswith(_SSE_HEADER) and name not in required:
            raise policy.conflict(rule, name)


def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    if isinstance(body, str):
        return body.encode()
    if hasattr(body, "seekable") and body.seekable():
        start = body.tell()
        try:
            data = body.read()
        finally:
            body.seek(start)
        return data if isinstance(data, bytes) else str(data).encode()
    raise OperationRefusedError(
        "a request that can change access or encryption has a streamed body that safes3 "
        "cannot inspect; it was not sent",
        operation=None,
    )


class StsGate(Gate):
    """The gate of an STS client: the transport checks alone."""


def install_gate(client: Any, make: Callable[[Any], Gate]) -> Gate:
    """Wrap ``client``'s HTTP session in the gate ``make`` builds around it."""
    endpoint = client._endpoint
    current = endpoint.http_session
    if isinstance(current, Gate):
        return current
    gate = make(current)
    endpoint.http_session = gate
    return gate


def gate_of(client: Any) -> Gate | None:
    """The gate on ``client``'s HTTP session, or None."""
    endpoint = getattr(client, "_endpoint", None)
    session = getattr(endpoint, "http_session", None)
    return session if isinstance(session, Gate) else None


_CRT_REFUSED = (
    "the CRT transfer client was asked for this client's credentials: it builds its own "
    "connection without safes3's endpoint, CA bundle or gate, so safes3 refuses it. Use "
    "the client's upload_file/download_file or safes3.upload/safes3.download"
)


def guarded_base(make: Callable[[Any, Any], Gate], on_init: Callable[[Any], None]) -> type:
    """A base class that puts the gate on every client built from it.

    It is inserted at ``creating-client-class``, so clients made by the
    resource API or any other path from the same session carry it too;
    ``on_init`` guards the rest of each new client (its request signer).  It
    also refuses to hand its credentials to boto3's CRT transfer client.
    """

    class GuardedClient:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            install_gate(self, lambda inner: make(inner, self))
            on_init(self)

        def _get_credentials(self) -> Any:
            raise InsecureTransportError(_CRT_REFUSED)

    return GuardedClient


def sts_base(ca_path: str) -> type:
    """The base class that gates STS clients: transport checks only."""

    def make(inner: Any, client: Any) -> Gate:
        return StsGate(inner, endpoint_url=client.meta.endpoint_url, ca_path=ca_path, aws=False)

    class GuardedSts:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            install_gate(self, lambda inner: make(inner, self))

    return GuardedSts
