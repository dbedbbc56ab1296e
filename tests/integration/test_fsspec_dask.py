"""``safes3://`` on a Dask cluster: two worker processes, one thread each, real stores.

The workers hold the SSE-C key (in their environment only) and the source
credentials (a shared credentials file); the driver holds the credentials
file but not the key, so it can plan and list but never read or write
data.  Each worker assumes the role itself.  What the stores kept is read
back with the raw admin client; what travelled is read from the
cloudpickled graph; what the workers logged at DEBUG is read from their
log files.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cloudpickle
import dask.dataframe as dd
import fsspec
import pandas as pd
import pytest
from distributed import Client, LocalCluster

import safes3
from safes3._filesystem import _options as _fsspec_options
from safes3._filesystem._fs import SafeS3FileSystem
from tests.fsspecstores import (
    KEY_ENV,
    b64,
    check_encrypted,
    options,
    ssec_options,
    write_credentials,
)
from tests.integration.test_fsspec import JumpUntilRenewed
from tests.storeinfo import StoreInfo

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.store

WORKER_KEY = os.urandom(32)
ABSENT_ENV = "SAFES3_TEST_KEY_NOWHERE"


@pytest.fixture(scope="session")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("worker-logs")


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory, logs: Path) -> Iterator[Client]:
    """One cluster for every store: pytest groups the tests by store, which would
    restart a module-scoped cluster between the stores' groups."""
    home = tmp_path_factory.mktemp("aws")
    env = {
        "AWS_SHARED_CREDENTIALS_FILE": str(write_credentials(home)),
        "AWS_CONFIG_FILE": str(home / "no-config"),
    }
    with pytest.MonkeyPatch.context() as driver:
        for name, value in env.items():
            driver.setenv(name, value)
        driver.delenv(KEY_ENV, raising=False)
        with (
            LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                env={**env, KEY_ENV: b64(WORKER_KEY)},
            ) as local,
            Client(local) as client,
        ):
            client.run(_debug_log_to, str(logs))
            yield client


def _debug_log_to(directory: str) -> None:
    handler = logging.FileHandler(os.path.join(directory, f"worker-{os.getpid()}.log"))
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in ("botocore", "boto3", "urllib3", "s3transfer", "safes3", "fsspec"):
        logging.getLogger(name).setLevel(logging.DEBUG)


def _arm_clock(opts: dict[str, Any], seconds: int) -> int:
    """On a worker: jump its credentials' clock ahead until they are renewed."""
    session = _fsspec_options.FSOptions.from_kwargs(opts).session()
    credentials: Any = session._boto.get_credentials()
    clock = JumpUntilRenewed(dt.timedelta(seconds=seconds))
    clock.credentials = credentials
    _fsspec_options.CLOCK = clock
    return int(credentials.generation)


def _credentials_seen(opts: dict[str, Any]) -> tuple[int, str, str]:
    """On a worker: its role credentials' generation, secret and token (for the log check)."""
    credentials: Any = _fsspec_options.FSOptions.from_kwargs(opts).session()._boto
    found = credentials.get_credentials()
    frozen = found.get_frozen_credentials()
    return int(found.generation), frozen.secret_key, frozen.token


def _read_one(path: str, opts: dict[str, Any]) -> pd.DataFrame:
    return pd.read_parquet(f"safes3://{path}", storage_options=opts)


def frame() -> pd.DataFrame:
    n = 4000
    return pd.DataFrame(
        {"n": range(n), "s": [f"row {i}" for i in range(n)], "p": [i % 4 for i in range(n)]}
    )


def secrets(store: StoreInfo, key: bytes) -> list[bytes]:
    import base64

    return [
        key,
        base64.b64encode(key),
        repr(key)[2:-1].encode(),
        store.admin.secret_key.encode(),
    ]


def test_dask_round_trip_with_a_key_only_the_workers_hold(
    cluster: Client, logs: Path, store: StoreInfo, admin_s3: S3Client, bucket: str
) -> None:
    opts = ssec_options(store, WORKER_KEY)
    assert KEY_ENV not in os.environ
    df = frame()
    url = f"safes3://{bucket}/dataset"
    write = dd.from_pandas(df, npartitions=4).to_parquet(url, storage_options=opts, compute=False)
    graph = cloudpickle.dumps(dict(write.__dask_graph__()))
    fs = fsspec.filesystem("safes3", **opts)
    travelled = [graph, pickle.dumps(fs), fs.to_json().encode(), repr(fs).encode()]
    for text in travelled:
        for secret in secrets(store, WORKER_KEY):
            assert secret not in text
    cluster.compute(write).result()

    generations = cluster.run(_arm_clock, opts, 800)
    assert sorted(generations.values()) == [0, 0]
    paths = fs.find(f"{bucket}/dataset")
    assert len(paths) == 4
    with pytest.raises(safes3.EncryptionConfigError, match=KEY_ENV):
        fs.cat(paths[0])
    bucket_name, key_name = fs.split_path(paths[0])
    with pytest.raises(safes3.EncryptionConfigError, match="GetObject"):
        fs._lister().get_object(Bucket=bucket_name, Key=key_name)
    read = dd.from_map(_read_one, paths, opts=opts, meta=df.head(0))
    read_graph = cloudpickle.dumps(dict(read.__dask_graph__()))
    for secret in secrets(store, WORKER_KEY):
        assert secret not in read_graph
    back = cluster.compute(read).result().sort_values("n").reset_index(drop=True)
    pd.testing.assert_frame_equal(back.astype(df.dtypes.to_dict()), df)

    seen = cluster.run(_credentials_seen, opts)
    assert all(generation >= 1 for generation, _, _ in seen.values())
    check_encrypted(admin_s3, store, bucket, opts, WORKER_KEY)
    fingerprint = opts["ssec_fingerprint"]
    driver_sessions = [desc for _, desc, kind in _fsspec_options._cache if kind == "data"]
    assert not any(fingerprint in desc for desc in driver_sessions)

    logged = b"".join(p.read_bytes() for p in logs.glob("worker-*.log"))
    assert b"PutObject" in logged
    assert b"GetObject" in logged
    assert b"AssumeRoleResponse" in logged
    worker_secrets = [s.encode() for _, secret, token in seen.values() for s in (secret, token)]
    for secret in [*secrets(store, WORKER_KEY), *worker_secrets]:
        assert secret not in logged


def test_dask_read_parquet_and_sse_kms(
    cluster: Client, store: StoreInfo, admin_s3: S3Client, bucket: str
) -> None:
    opts = options(store, "SSE-KMS")
    df = frame()
    url = f"safes3://{bucket}/kms"
    dd.from_pandas(df, npartitions=2).to_parquet(url, storage_options=opts, partition_on=["p"])
    back = dd.read_parquet(url, storage_options=opts).compute()
    back = back.sort_values("n").reset_index(drop=True)
    pd.testing.assert_frame_equal(back[df.columns].astype(df.dtypes.to_dict()), df)
    assert len(check_encrypted(admin_s3, store, bucket, opts, None)) >= 4


def test_a_worker_without_the_key_fails_closed(
    cluster: Client, store: StoreInfo, admin_s3: S3Client, bucket: str
) -> None:
    df = frame()
    absent = ssec_options(store, WORKER_KEY, ssec_key_env=ABSENT_ENV)
    with pytest.raises(safes3.EncryptionConfigError, match=ABSENT_ENV):
        dd.from_pandas(df, npartitions=2).to_parquet(f"safes3://{bucket}/a", storage_options=absent)
    other = ssec_options(store, os.urandom(32))
    with pytest.raises(safes3.EncryptionConfigError, match="fingerprint"):
        dd.from_pandas(df, npartitions=2).to_parquet(f"safes3://{bucket}/b", storage_options=other)
    assert admin_s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
    assert admin_s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_plain_http_is_refused_on_the_driver_and_on_a_worker(
    cluster: Client, store: StoreInfo, bucket: str
) -> None:
    opts = options(store, "SSE-KMS")
    plain = {**opts, "endpoint_url": store.http_endpoint_url}
    with pytest.raises(safes3.InsecureTransportError):
        dd.read_parquet(f"safes3://{bucket}/x", storage_options=plain)
    fs = SafeS3FileSystem(**opts, skip_instance_cache=True)
    https, http = store.endpoint_url.encode(), store.http_endpoint_url.encode()
    tampered = pickle.dumps(fs).replace(https, http[: len(https)].ljust(len(https), b"0"))
    assert http[:7] in tampered
    with pytest.raises(safes3.InsecureTransportError):
        cluster.submit(pickle.loads, tampered, pure=False).result()
    with pytest.raises(safes3.InsecureTransportError):
        cluster.submit(lambda: fsspec.filesystem("safes3", **plain), pure=False).result()
