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
headers that operation must carry.  What is checked is a frozen copy of the
request (:mod:`safes3._core._frozen`), and that copy is what is sent.

This reaches into two private botocore attributes (``_endpoint`` and
``http_session``); ``tests/unit/test_gate_offline.py`` fails if botocore moves them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection, Mapping
from typing import Any
from urllib.parse import urlsplit

from safes3._core._frozen import Frozen, freeze, read_body, with_body
from safes3._core._operations import (
    ACL_HEADERS,
    NEVER,
    OPERATIONS,
    Kind,
    OperationClass,
    loosening,
)
from safes3._core._routes import Router, path_kind
from safes3._core._rules import OperationRule, Policy, rules_for
from safes3._exceptions import ACLRefusedError, InsecureTransportError, OperationRefusedError

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

_SSE_HEADER = "x-amz-server-side-encryption"
_AWS_S3_HOST = re.compile(
    r"^(?:(?P<bucket>[a-z0-9][a-z0-9.-]*)\.)?"
    r"s3(?:[.-](?:dualstack|accelerate|external-1|[a-z]{2}(?:-gov|-iso[a-z]*)?-[a-z]+-\d))*"
    r"\.amazonaws\.com(?:\.cn)?$"
)


_UNKNOWN = OperationClass(Kind.OTHER)


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
        frozen = self.check(freeze(request), request)
        return self._inner.send(frozen.prepared)

    def close(self) -> None:
        self._inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def check(self, frozen: Frozen, request: Any) -> Frozen:
        """The request to send, once every check passed; raises otherwise."""
        where = f"{frozen.method} {frozen.scheme}://{frozen.host}:{frozen.port}{frozen.path}"
        if frozen.scheme != "https":
            raise InsecureTransportError(
                f"{where} is not HTTPS; it was not sent (a later event handler or a "
                "setting changed the URL: safes3 sends nothing without verified TLS)"
            )
        if frozen.port != self._port or not self._host_allowed(frozen.host):
            raise InsecureTransportError(
                f"{where} is not the configured endpoint {self._host}:{self._port}; it was "
                "not sent (the request was redirected after safes3's checks)"
            )
        stated = frozen.headers.get("host")
        if stated is not None and stated.lower() not in (
            frozen.host,
            f"{frozen.host}:{frozen.port}",
        ):
            raise InsecureTransportError(f"{where} names another Host ({stated}); not sent")
        if self._inner._verify != self._ca_path:
            raise InsecureTransportError(
                f"{where} would not be verified with safes3's CA bundle "
                f"({self._inner._verify!r} instead); it was not sent"
            )
        if os.environ.get("SSLKEYLOGFILE"):
            raise InsecureTransportError(
                f"{where} was not sent: SSLKEYLOGFILE is set, so the TLS session keys of "
                "every connection would be written to a file. Unset it"
            )
        proxies = self._inner._proxy_config
        forwarding = proxies.settings.get("proxy_use_forwarding_for_https")
        proxy = proxies.proxy_url_for(frozen.url) if forwarding else None
        if proxy:
            raise InsecureTransportError(
                f"{where} would be forwarded in the clear to the proxy {urlsplit(proxy).netloc} "
                "(proxy_use_forwarding_for_https); it was not sent. Drop that setting: a "
                "tunnelling proxy never sees the request"
            )
        return self.check_request(frozen, request)

    def check_request(self, frozen: Frozen, request: Any) -> Frozen:
        """Service-specific checks; the base checks only the transport."""
        return frozen

    def _host_allowed(self, host: str) -> bool:
        if self._aws:
            return _AWS_S3_HOST.match(host) is not None
        return host == self._host or host.endswith("." + self._host)

    def bucket_in_host(self, host: str) -> bool:
        if self._aws:
            found = _AWS_S3_HOST.match(host)
            return found is not None and found.group("bucket") is not None
        return host != self._host


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

    def check_request(self, frozen: Frozen, request: Any) -> Frozen:
        where = f"{frozen.method} {frozen.path}"
        wire = frozen.headers
        names = frozenset(wire)
        encryption = []
        for name in names:
            if name.startswith("x-amz-"):
                if name.startswith(ACL_HEADERS):
                    raise ACLRefusedError(
                        f"{where} carries the ACL header {name!r} (added after safes3's "
                        "checks, e.g. by another event handler); it was not sent"
                    )
                if name.startswith(_SSE_HEADER):
                    encryption.append(name)
        kind = path_kind(frozen.path, bucket_in_host=self.bucket_in_host(frozen.host))
        found = self._router.operations(frozen.method, kind, frozen.query, names)
        if not found:
            raise OperationRefusedError(
                f"{where}?{frozen.query} is no S3 operation safes3 knows; it was not sent",
                operation=None,
            )
        if any(OPERATIONS.get(name, _UNKNOWN).inspector is not None for name in found):
            frozen = with_body(frozen, read_body(request.body))
        for name in found:
            self._check_operation(name, wire, encryption, frozen.prepared.body)
        return frozen

    def _check_operation(
        self, name: str, wire: Mapping[str, Any], encryption: list[str], body: Any
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
            problem = loosening(name, wire, body)
            if problem is not None:
                refuse_loosening(name, problem, known.kind, self._allowed)
        rule = self._rules[name]
        for header, value in self.policy.required_headers(rule):
            if wire.get(header) != value:
                raise self.policy.missing_header(rule, header)
        _check_foreign_encryption(rule, self.policy, encryption)


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


def _check_foreign_encryption(rule: OperationRule, policy: Policy, encryption: list[str]) -> None:
    """A write carries no encryption header but the ones its rule requires."""
    if not rule.is_write or not encryption:
        return
    required = {name for name, _ in policy.required_headers(rule)}
    for name in encryption:
        if name not in required:
            raise policy.conflict(rule, name)


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
