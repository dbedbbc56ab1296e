"""The real store behind a TLS proxy that answers one case as AWS does, and a CLI runner.

Ceph RGW and SeaweedFS answer a HeadObject or GetObject carrying SSE-C
headers of an object that is *not* SSE-C with 200.  AWS answers 400
InvalidArgument ("The encryption parameters are not applicable to this
object"; a HEAD gets the status only).  :func:`aws_ssec_rule` synthesises
exactly that answer, and only when the real store's own answer shows the
object is not SSE-C (a 200/206 without the SSE-C algorithm header).  Every
other request and answer is the real store's.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from tests.httpproxy import HttpFaultProxy, Reply, Request, s3_error
from tests.integration.test_cli import _env
from tests.storeinfo import StoreInfo

_ALGORITHM = "x-amz-server-side-encryption-customer-algorithm"


def aws_ssec_rule(request: Request, status: int, headers: dict[str, str]) -> Reply | None:
    """AWS's 400 for SSE-C headers on an object the store says is not SSE-C."""
    if request.method not in ("GET", "HEAD") or _ALGORITHM not in request.headers:
        return None
    if status not in (200, 206) or headers.get(_ALGORITHM):
        return None
    return s3_error(
        400, "InvalidArgument", "The encryption parameters are not applicable to this object."
    )


@contextmanager
def proxy_for(store: StoreInfo) -> Iterator[HttpFaultProxy]:
    parsed = urlsplit(store.endpoint_url)
    assert parsed.hostname is not None
    assert parsed.port is not None
    with HttpFaultProxy(parsed.hostname, parsed.port, store.ca_bundle) as proxy:
        yield proxy


def run_cli(store: StoreInfo, *args: str, proxy: HttpFaultProxy | None = None, **env: str) -> Any:
    """``python -m safes3 ARGS`` against ``store`` (through ``proxy`` when given)."""
    settings = _env(store, **env)
    if proxy is not None:
        settings.update(
            SAFES3_ENDPOINT_URL=proxy.endpoint_url, SAFES3_CA_BUNDLE=proxy.ca_bundle_for_clients
        )
    return subprocess.run(
        [sys.executable, "-m", "safes3", *args],
        capture_output=True,
        env=settings,
        timeout=180,
        check=False,
    )
