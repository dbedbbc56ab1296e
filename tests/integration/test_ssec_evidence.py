"""rekey --encrypt and audit under an SSE-C setting, against a store that answers as AWS does.

The store is the real one behind tests/httpproxy.py with
:func:`tests.awslike.aws_ssec_rule`: the only synthesised answer is AWS's
400 InvalidArgument to a HeadObject/GetObject carrying SSE-C headers of an
object the real store reports as not SSE-C.  One test also synthesises a
HeadObject 400 with no SSE-C hint for one named key (as a broken store or
middlebox might); everything else is the real store's answer.
"""

from __future__ import annotations

import base64
import json
import os
from typing import TYPE_CHECKING

import pytest
from botocore.exceptions import ClientError

import safes3
from tests.awslike import aws_ssec_rule, proxy_for, run_cli
from tests.clients import client_for
from tests.httpproxy import Reply, Request
from tests.storeinfo import StoreInfo

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.store


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_rekey_encrypt_under_sse_c_encrypts_every_plaintext_object(
    store: StoreInfo, bucket: str, admin_s3: S3Client, tmp_path: object
) -> None:
    key = _key()
    names = [f"p/{n}" for n in range(3)]
    for name in names:
        admin_s3.put_object(Bucket=bucket, Key=name, Body=name.encode())
    with proxy_for(store) as proxy:
        proxy.rewrite(aws_ssec_rule)
        proc = run_cli(
            store,
            "rekey",
            f"s3://{bucket}/p/",
            "--encrypt",
            "--state",
            f"{tmp_path}/state.jsonl",
            "--json",
            proxy=proxy,
            SAFES3_ENCRYPTION="sse-c:NEWKEY",
            NEWKEY=key,
        )
        synthesised = len(proxy.rewritten)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.decode().splitlines()[-1])["failed"] == {}
    ssec = client_for(store, safes3.SSEC.from_base64(key))
    for name in names:
        with pytest.raises(ClientError):  # no longer readable without the key
            admin_s3.head_object(Bucket=bucket, Key=name)
        assert ssec.get_object(Bucket=bucket, Key=name)["Body"].read() == name.encode()
    assert synthesised >= 1  # the AWS answer was really exercised


def test_audit_under_sse_c_reports_plaintext_as_plaintext(
    store: StoreInfo, bucket: str, admin_s3: S3Client
) -> None:
    key = _key()
    admin_s3.put_object(Bucket=bucket, Key="plain", Body=b"plaintext")
    client_for(store, safes3.SSEC.from_base64(key)).put_object(
        Bucket=bucket, Key="ssec", Body=b"customer"
    )
    client_for(store, safes3.SSEC.from_base64(_key())).put_object(
        Bucket=bucket, Key="other-key", Body=b"another key"
    )
    admin_s3.put_object(Bucket=bucket, Key="odd", Body=b"odd")

    def odd_head(request: Request, status: int, headers: dict[str, str]) -> Reply | None:
        if request.method == "HEAD" and request.target.split("?")[0].endswith("/odd"):
            return Reply(400, {})
        return None

    with proxy_for(store) as proxy:
        proxy.rewrite(aws_ssec_rule)
        proxy.rewrite(odd_head)
        proc = run_cli(
            store, "audit", "--json", bucket, proxy=proxy, SAFES3_ENCRYPTION="sse-c:K", K=key
        )
    assert proc.returncode >= 5, proc.stderr
    report = json.loads(proc.stdout)["buckets"][0]
    assert report["inventory"]["none"] == {"objects": 1, "bytes": 9}
    assert report["inventory"]["SSE-C"] == {"objects": 2, "bytes": 19}
    assert report["inventory"]["unknown"] == {"objects": 1, "bytes": 3}
    by_check = {f["check"]: f for f in report["findings"]}
    assert "'plain'" in by_check["unencrypted-objects"]["evidence"]
    assert "'odd'" in by_check["unclassified-objects"]["evidence"]
    assert by_check["unclassified-objects"]["severity"] == "high"
