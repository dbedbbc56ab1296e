"""Building safes3 clients for a live test store."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import safes3
from tests.storeinfo import StoreInfo

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def session_for(store: StoreInfo, encryption: safes3.Encryption, **extra: Any) -> safes3.Session:
    """A safes3 session on ``store`` with the admin's (long-term, so allowed) keys."""
    settings: dict[str, Any] = {
        "encryption": encryption,
        "endpoint_url": store.endpoint_url,
        "ca_bundle": store.ca_bundle,
        "store": store.extra["profile"],
        "region": store.region,
        "credentials": safes3.StaticCredentials(
            access_key_id=store.admin.access_key, secret_access_key=store.admin.secret_key
        ),
        "allow_static_credentials": True,
    }
    settings.update(extra)
    return safes3.Session(**settings)


def client_for(store: StoreInfo, encryption: safes3.Encryption, **extra: Any) -> S3Client:
    return session_for(store, encryption, **extra).client()
