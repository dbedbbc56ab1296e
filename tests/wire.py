"""Recording what leaves the process.

``before-send`` is botocore's last event before urllib3 writes the request
to the socket: the method, URL and headers seen here are those on the wire
(the body is the prepared body).  The recorder sends nothing itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from botocore.client import BaseClient


@dataclass
class Sent:
    method: str
    url: str
    headers: dict[str, str]

    def header(self, name: str) -> str | None:
        low = name.lower()
        for key, value in self.headers.items():
            if key.lower() == low:
                return value
        return None


@dataclass
class Wire:
    sent: list[Sent] = field(default_factory=list)

    def record(self, request: Any, **_: Any) -> None:
        headers = {
            k: v.decode() if isinstance(v, bytes) else str(v) for k, v in request.headers.items()
        }
        self.sent.append(Sent(request.method, request.url, headers))

    def attach(self, client: BaseClient) -> Wire:
        client.meta.events.register("before-send.s3", self.record)
        return self

    def where(self, method: str, fragment: str = "") -> list[Sent]:
        return [s for s in self.sent if s.method == method and fragment in s.url]
