"""Which S3 operation a request on the wire *is*, read from its method, path and query.

The gate must not trust what botocore meant to send: a handler registered
after safes3's may have turned a PutObject into a PutObjectAcl by adding
``?acl``.  So the final request is classified again, by the same routes the
service model gives the server (``http.method`` and ``http.requestUri``,
plus the query-string and header members each operation requires).  A
request that fits no operation of the model is unknown, and refused.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from urllib.parse import unquote

from botocore.model import OperationModel, ServiceModel

__all__ = ["Router", "path_kind"]

SERVICE, BUCKET, OBJECT = "service", "bucket", "object"


@dataclass(frozen=True, slots=True)
class _Route:
    name: str
    method: str
    kind: str
    literal: frozenset[str]
    required: frozenset[str]
    allowed: frozenset[str]
    headers: frozenset[str]

    @property
    def score(self) -> int:
        return len(self.literal) + len(self.required) + len(self.headers)


def _route(op: OperationModel) -> _Route:
    uri = str(op.http.get("requestUri", "/"))
    path, _, query = uri.partition("?")
    literal = frozenset(p.split("=", 1)[0].lower() for p in query.split("&") if p)
    if "{Key+}" in path:
        kind = OBJECT
    elif "{Bucket}" in path:
        kind = BUCKET
    else:
        kind = SERVICE if path == "/" else "path:" + path.lower()
    members = op.input_shape.members if op.input_shape is not None else {}
    required_names = set(op.input_shape.required_members) if op.input_shape is not None else set()
    in_query = {
        name: str(shape.serialization.get("name", name)).lower()
        for name, shape in members.items()
        if shape.serialization.get("location") == "querystring"
    }
    headers = frozenset(
        str(shape.serialization.get("name", name)).lower()
        for name, shape in members.items()
        if name in required_names and shape.serialization.get("location") == "header"
    )
    return _Route(
        name=op.name,
        method=str(op.http.get("method", "GET")).upper(),
        kind=kind,
        literal=literal,
        required=frozenset(w for n, w in in_query.items() if n in required_names),
        allowed=literal | frozenset(in_query.values()),
        headers=headers,
    )


def path_kind(path: str, *, bucket_in_host: bool) -> str:
    """``service``, ``bucket`` or ``object`` for a request path."""
    parts = path.lstrip("/")
    if bucket_in_host:
        return BUCKET if not parts else OBJECT
    if not parts:
        return SERVICE
    _bucket, slash, key = parts.partition("/")
    return OBJECT if slash and key else BUCKET


class Router:
    """Routes of one service model; lookups are cached per request shape."""

    def __init__(self, model: ServiceModel) -> None:
        self._routes = [_route(model.operation_model(n)) for n in model.operation_names]
        self._cache: dict[tuple[str, str, frozenset[str], frozenset[str]], tuple[str, ...]] = {}
        self._lock = threading.Lock()
        self._route_headers = frozenset().union(*(r.headers for r in self._routes))

    def operations(
        self, method: str, kind: str, query: str, header_names: frozenset[str]
    ) -> tuple[str, ...]:
        """The operations (ties included) a request could be; empty if none."""
        keys = frozenset(
            unquote(part.split("=", 1)[0]).lower() for part in query.split("&") if part
        )
        present = header_names & self._route_headers
        cache_key = (method.upper(), kind, keys, present)
        found = self._cache.get(cache_key)
        if found is None:
            found = self._match(*cache_key)
            with self._lock:
                self._cache[cache_key] = found
        return found

    def _match(
        self, method: str, kind: str, keys: frozenset[str], headers: frozenset[str]
    ) -> tuple[str, ...]:
        fits = [
            r
            for r in self._routes
            if r.method == method
            and r.kind == kind
            and r.literal <= keys
            and r.required <= keys
            and keys <= r.allowed
            and r.headers <= headers
        ]
        if not fits:
            return ()
        best = max(r.score for r in fits)
        return tuple(sorted(r.name for r in fits if r.score == best))
