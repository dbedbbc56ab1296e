"""One failing part is sent exactly ``max_attempts`` times: botocore's retries never stack.

The part requests reach tests/httpproxy.py, which answers every attempt at
part 2 with a real 503 SlowDown response (the store never sees them) and
relays everything else to the real store.  The attempts are counted on the
wire.  The upload runs in a child process whose botocore reports itself as
1.43.9: releases of 1.43 already read a ``needs-retry`` answer of False as
"do not retry", so safes3 must silence botocore's retries there too (it
detects the behaviour, not the version).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.awslike import proxy_for
from tests.integration.test_transfers import uploads_left
from tests.storeinfo import StoreInfo

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.store

MAX_ATTEMPTS = 3

_CHILD = r"""
import sys
import botocore
botocore.__version__ = sys.argv[5]
import safes3
from tests.clients import client_for
from tests.storeinfo import StoreInfo

store = StoreInfo.load(sys.argv[1])
s3 = client_for(
    store, safes3.SSEKMS(store.kms_key_ids[0]), endpoint_url=sys.argv[2], ca_bundle=sys.argv[3]
)
settings = safes3.TransferSettings(
    part_size=5 << 20, max_concurrency=1, max_attempts=int(sys.argv[6]), sleep=lambda _s: None
)
try:
    safes3.upload(s3, b"x" * (11 << 20), sys.argv[4], "obj", settings=settings)
except safes3.TransferError as exc:
    print("failed:", exc)
"""


@pytest.mark.parametrize("reported_version", ["1.43.9", "installed"])
def test_a_failing_part_is_sent_exactly_max_attempts_times(
    store: StoreInfo, bucket: str, admin_s3: S3Client, reported_version: str
) -> None:
    import botocore

    version = botocore.__version__ if reported_version == "installed" else reported_version
    with proxy_for(store) as proxy:
        for _ in range(30):
            proxy.answer_once(
                lambda r: r.method == "PUT" and "partNumber=2&" in f"{r.target}&", 503, "SlowDown"
            )
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        child = subprocess.run(
            [
                sys.executable,
                "-c",
                _CHILD,
                store.path,
                proxy.endpoint_url,
                proxy.ca_bundle_for_clients,
                bucket,
                version,
                str(MAX_ATTEMPTS),
            ],
            env=env,
            capture_output=True,
            timeout=180,
            check=False,
        )
        sends = len(proxy.answered)
    assert child.returncode == 0, child.stderr.decode()[-2000:]
    assert child.stdout.startswith(b"failed:"), child.stdout
    assert f"after {MAX_ATTEMPTS} attempt(s)".encode() in child.stdout
    assert sends == MAX_ATTEMPTS
    assert uploads_left(admin_s3, bucket) == []
