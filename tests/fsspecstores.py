"""Storage options for ``safes3://`` against a live test store, and checks of what it kept.

Each process gets its source credentials the way a real worker would: a
shared credentials file with one profile per store (named after the store),
found through ``AWS_SHARED_CREDENTIALS_FILE``.  The role is then assumed in
that process; the storage options name only the profile.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING, Any

import safes3
from tests.storeinfo import StoreInfo, configured_stores

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

KEY_ENV = "SAFES3_TEST_WORKER_SSEC_KEY"


def write_credentials(directory: Path) -> Path:
    """A shared credentials file with the admin keys of every configured store."""
    path = directory / "credentials"
    lines = []
    for store in configured_stores():
        lines += [
            f"[{store.name}]",
            f"aws_access_key_id = {store.admin.access_key}",
            f"aws_secret_access_key = {store.admin.secret_key}",
            "",
        ]
    path.write_text("\n".join(lines))
    path.chmod(0o600)
    return path


def options(store: StoreInfo, encryption: str, **extra: Any) -> dict[str, Any]:
    """``safes3://`` storage options for ``store`` with its test role."""
    found: dict[str, Any] = {
        "encryption": encryption,
        "endpoint_url": store.endpoint_url,
        "ca_bundle": store.ca_bundle,
        "store": store.extra["profile"],
        "region": store.region,
        "role_arn": store.role_arn,
        "role_duration_seconds": 900,
        "role_source_profile": store.name,
        "sts_endpoint_url": store.sts_endpoint_url,
    }
    if encryption == "SSE-KMS":
        found["kms_key_id"] = store.kms_key_ids[0]
    found.update(extra)
    return found


def ssec_options(store: StoreInfo, key: bytes, **extra: Any) -> dict[str, Any]:
    settings = {"ssec_key_env": KEY_ENV, "ssec_fingerprint": safes3.SSEC(key).fingerprint}
    settings.update(extra)
    return options(store, "SSE-C", **settings)


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def check_encrypted(
    admin_s3: S3Client, store: StoreInfo, bucket: str, opts: dict[str, Any], key: bytes | None
) -> list[str]:
    """Every object in ``bucket`` is stored as ``opts`` says (the admin's HeadObject); the keys."""
    keys = [o["Key"] for o in admin_s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys
    for name in keys:
        if opts["encryption"] == "SSE-C":
            assert key is not None
            head: Any = admin_s3.head_object(
                Bucket=bucket, Key=name, SSECustomerAlgorithm="AES256", SSECustomerKey=key
            )
            assert safes3.SSEC(key).fingerprint in head["SSECustomerKeyMD5"]
        else:
            head = admin_s3.head_object(Bucket=bucket, Key=name)
            assert head["ServerSideEncryption"] == "aws:kms"
            assert safes3.SSEKMS(opts["kms_key_id"]).matches_key(head.get("SSEKMSKeyId"))
    return keys
