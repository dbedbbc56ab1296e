"""``safes3 demo``: a short, printed tour of what safes3 enforces, on a local store.

It reads the ``store.json`` written by the test-store scripts (endpoint, CA,
keys, KMS key names), so it runs against the embedded local Ceph RGW with no
other setup.  Every step prints what was sent and what the store or safes3
answered; key material is never printed, only SSE-C key fingerprints.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config as BotocoreConfig
from botocore.exceptions import ClientError

from safes3._core._encryption import SSEC, SSEKMS, SSES3, Encryption
from safes3._core._profiles import PROFILES
from safes3._credentials._role import AssumeRole
from safes3._credentials._static import StaticCredentials
from safes3._exceptions import SafeS3Error
from safes3._session import Session

__all__ = ["run"]


def run(store_json: str | Path, out: Callable[[str], None] = print) -> int:
    """Run the tour against the store described by ``store_json``; 0 when all held."""
    info: dict[str, Any] = json.loads(Path(store_json).read_text())
    profile = info.get("extra", {}).get("profile", "generic")
    role = AssumeRole(
        role_arn=info["role_arn"],
        session_name="safes3-demo",
        duration_seconds=900,
        source=StaticCredentials(
            access_key_id=info["admin"]["access_key"],
            secret_access_key=info["admin"]["secret_key"],
        ),
        sts_endpoint_url=info.get("sts_endpoint_url", info["endpoint_url"]),
    )

    def session(enc: Encryption, **extra: Any) -> Session:
        settings: dict[str, Any] = {
            "encryption": enc,
            "endpoint_url": info["endpoint_url"],
            "ca_bundle": info["ca_bundle"],
            "store": profile,
            "region": info.get("region", "us-east-1"),
            "credentials": role,
        }
        settings.update(extra)
        return Session(**settings)

    failures = 0

    def _say(step: str, outcome: str) -> None:
        out(f"  {step:<58} {outcome}")

    def expect(step: str, action: Callable[[], str], *, refused_by: type[BaseException]) -> None:
        nonlocal failures
        try:
            result = action()
        except refused_by as exc:
            _say(step, f"REFUSED ({type(exc).__name__}): {exc}")
            return
        failures += 1
        _say(step, f"UNEXPECTEDLY ALLOWED: {result}")

    bucket = f"safes3-demo-{uuid.uuid4().hex[:8]}"
    out(f"safes3 demo against {info['endpoint_url']} (store profile '{profile}')")
    out(f"S3 calls run on temporary credentials from the role {role.role_arn}")
    kms = SSEKMS(info["kms_key_ids"][0])
    s3 = session(kms).client()
    s3.create_bucket(Bucket=bucket)
    try:
        out("\n1. Encrypted writes and reads, proven from the store's answers")
        put = s3.put_object(Bucket=bucket, Key="kms.txt", Body=b"hello, KMS")
        body = s3.get_object(Bucket=bucket, Key="kms.txt")["Body"].read()
        _say(
            f"SSE-KMS put+get with key {kms.key_id!r}",
            f"ok: store says {put['ServerSideEncryption']} / {put.get('SSEKMSKeyId')}, "
            f"read {body!r}",
        )
        key = SSEC.generate()
        c_s3 = session(key).client()
        put = c_s3.put_object(Bucket=bucket, Key="ssec.txt", Body=b"hello, SSE-C")
        body = c_s3.get_object(Bucket=bucket, Key="ssec.txt")["Body"].read()
        _say(
            f"SSE-C put+get with key {key.fingerprint}",
            f"ok: store confirms key MD5 {put['SSECustomerKeyMD5']}, read {body!r}",
        )

        out("\n2. The store enforcing SSE-C")
        other = session(SSEC.generate()).client()
        expect(
            "read the SSE-C object with another key",
            lambda: repr(other.get_object(Bucket=bucket, Key="ssec.txt")["Body"].read()),
            refused_by=ClientError,
        )

        out("\n3. safes3 refusing insecure use before anything is sent")
        expect(
            "put an object with ACL='public-read'",
            lambda: str(s3.put_object(Bucket=bucket, Key="pub", Body=b"x", ACL="public-read")),
            refused_by=SafeS3Error,
        )
        expect(
            "make the bucket public (PutBucketAcl)",
            lambda: str(s3.put_bucket_acl(Bucket=bucket, ACL="public-read")),
            refused_by=SafeS3Error,
        )
        if info.get("http_endpoint_url"):
            expect(
                f"build a client for {info['http_endpoint_url']}",
                lambda: repr(session(kms, endpoint_url=info["http_endpoint_url"]).client()),
                refused_by=SafeS3Error,
            )

        out("\n4. safes3 checking the store's answer, not its own request")
        s3_client = session(SSES3()).client()
        if PROFILES[profile].sse_s3_honoured:
            put = s3_client.put_object(Bucket=bucket, Key="s3.txt", Body=b"x")
            _say("SSE-S3 put", f"ok: store confirms {put['ServerSideEncryption']}")
        else:
            expect(
                "SSE-S3 put (this store accepts AES256 and ignores it)",
                lambda: str(s3_client.put_object(Bucket=bucket, Key="s3.txt", Body=b"x")),
                refused_by=SafeS3Error,
            )
            left = _raw_keys(info, bucket)
            _say("objects in the bucket afterwards", ", ".join(left) or "(none)")
            if "s3.txt" in left:
                failures += 1
    finally:
        _empty(s3, bucket)
    out("\nall guarantees held" if failures == 0 else f"\n{failures} step(s) did not hold")
    return 0 if failures == 0 else 1


def _raw_keys(info: dict[str, Any], bucket: str) -> list[str]:
    raw = boto3.session.Session().client(
        "s3",
        endpoint_url=info["endpoint_url"],
        region_name=info.get("region", "us-east-1"),
        aws_access_key_id=info["admin"]["access_key"],
        aws_secret_access_key=info["admin"]["secret_key"],
        verify=info["ca_bundle"],
        config=BotocoreConfig(s3={"addressing_style": "path"}),
    )
    return [o["Key"] for o in raw.list_objects_v2(Bucket=bucket).get("Contents", [])]


def _empty(s3: Any, bucket: str) -> None:
    for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=obj["Key"])
    s3.delete_bucket(Bucket=bucket)


if __name__ == "__main__":
    import sys

    raise SystemExit(run(sys.argv[1]))
