"""Shared fixtures: a live store handle, a raw admin client, a fresh bucket per test.

The raw clients here are plain boto3, deliberately outside safes3: tests use
them to arrange a server state and to inspect what the server stored.
"""

from __future__ import annotations

import os
import sys

if os.environ.get("SAFES3_TEST_WITHOUT_AWSCRT"):
    # A second pass of the suite runs as a plain `pip install safes3` would:
    # without awscrt, botocore signs in Python and safes3 checksums with zlib.
    sys.modules["awscrt"] = None  # type: ignore[assignment]

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config

from tests.storeinfo import Keys, StoreInfo, configured_stores

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_STORES = configured_stores()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store" in metafunc.fixturenames:
        ids = [s.name for s in _STORES] or ["no-store"]
        metafunc.parametrize("store", _STORES or [None], ids=ids, indirect=True, scope="session")


@pytest.fixture(scope="session")
def store(request: pytest.FixtureRequest) -> StoreInfo:
    """The live store under test; fails (never skips) when none was started."""
    info: StoreInfo | None = request.param
    if info is None:
        pytest.fail(
            "no test store is running: SAFES3_TEST_STORES is empty. "
            "Run the suite with `bash scripts/test.sh`, which starts the stores."
        )
    return info


def raw_client(store: StoreInfo, keys: Keys | None = None, **config: Any) -> S3Client:
    """A plain boto3 client for arranging and inspecting server state."""
    k = keys or store.admin
    settings: dict[str, Any] = {
        "request_checksum_calculation": "when_required",
        "response_checksum_validation": "when_required",
        "s3": {"addressing_style": "path"},
        "retries": {"max_attempts": 2, "mode": "standard"},
    }
    settings.update(config)
    made: S3Client = boto3.session.Session().client(
        "s3",
        endpoint_url=store.endpoint_url,
        region_name=store.region,
        aws_access_key_id=k.access_key,
        aws_secret_access_key=k.secret_key,
        verify=store.ca_bundle,
        config=Config(**settings),
    )
    return made


@pytest.fixture(scope="session")
def admin_s3(store: StoreInfo) -> S3Client:
    return raw_client(store)


def empty_bucket(s3: S3Client, bucket: str) -> None:
    """Abort unfinished uploads and delete every object version in ``bucket``."""
    for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        for up in page.get("Uploads", []):
            s3.abort_multipart_upload(Bucket=bucket, Key=up["Key"], UploadId=up["UploadId"])
    for versions in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for v in [*versions.get("Versions", []), *versions.get("DeleteMarkers", [])]:
            s3.delete_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
    for listing in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for o in listing.get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=o["Key"])


@pytest.fixture
def bucket(admin_s3: S3Client) -> Iterator[str]:
    """A new, empty bucket for one test, emptied and deleted afterwards."""
    name = f"t-{uuid.uuid4().hex[:20]}"
    admin_s3.create_bucket(Bucket=name)
    try:
        yield name
    finally:
        empty_bucket(admin_s3, name)
        admin_s3.delete_bucket(Bucket=name)
