"""``safes3://`` in one process, against the real stores over HTTPS.

pandas and pyarrow reach the stores only through the URL and the storage
options (the filesystem is found through fsspec's entry point).  What the
store kept is read back with the raw admin client.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyarrow.fs import FSSpecHandler, PyFileSystem

import safes3
from safes3._credentials._refresh import RoleCredentials
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
from tests.storeinfo import StoreInfo

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.store

MIB = 1 << 20


@pytest.fixture(autouse=True)
def source_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(write_credentials(tmp_path)))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> bytes:
    made = os.urandom(32)
    monkeypatch.setenv(KEY_ENV, b64(made))
    return made


def frame(rows: int = 20_000) -> pd.DataFrame:
    return pd.DataFrame({"n": range(rows), "s": [f"row {i}" for i in range(rows)]})


@pytest.mark.parametrize("mode", ["SSE-C", "SSE-KMS"])
def test_pandas_parquet_round_trip(
    store: StoreInfo, admin_s3: S3Client, bucket: str, key: bytes, mode: str
) -> None:
    opts = ssec_options(store, key) if mode == "SSE-C" else options(store, mode)
    df = frame()
    df.to_parquet(f"safes3://{bucket}/table/x.parquet", storage_options=opts)
    back = pd.read_parquet(f"safes3://{bucket}/table/x.parquet", storage_options=opts)
    pd.testing.assert_frame_equal(back, df)
    assert check_encrypted(admin_s3, store, bucket, opts, key) == ["table/x.parquet"]


def test_filesystem_surface(store: StoreInfo, admin_s3: S3Client, bucket: str, key: bytes) -> None:
    opts = ssec_options(store, key, part_size_mib=5)
    fs = fsspec.filesystem("safes3", **opts)
    data = os.urandom(12 * MIB + 123)
    with fs.open(f"{bucket}/dir/big", "wb") as f:
        for start in range(0, len(data), 3 * MIB):
            f.write(data[start : start + 3 * MIB])
    assert f.upload_result is not None
    assert f.upload_result.parts == 3
    fs.pipe(f"{bucket}/dir/sub/small", b"hello")
    assert fs.ls(f"{bucket}/dir", detail=False) == [f"{bucket}/dir/big", f"{bucket}/dir/sub"]
    assert fs.info(f"{bucket}/dir/big")["size"] == len(data)
    assert fs.info(f"{bucket}/dir")["type"] == "directory"
    assert fs.find(bucket) == [f"{bucket}/dir/big", f"{bucket}/dir/sub/small"]
    assert not fs.exists(f"{bucket}/dir/bi")
    with pytest.raises(FileNotFoundError):
        fs.info(f"{bucket}/missing")
    assert fs.cat(f"{bucket}/dir/sub/small") == b"hello"
    assert (
        fs.cat_file(f"{bucket}/dir/big", 5 * MIB - 3, 5 * MIB + 3)
        == data[5 * MIB - 3 : 5 * MIB + 3]
    )
    assert fs.cat(f"{bucket}/dir/big") == data
    with fs.open(f"{bucket}/dir/big", "rb") as f:
        f.seek(len(data) - 10)
        assert f.read() == data[-10:]
        f.seek(0)
        assert f.read() == data
    with fs.open(f"{bucket}/dir/big", "rb", block_size=5 * MIB) as f:
        assert f.read(10) == data[:10]
        fs.pipe(f"{bucket}/dir/big", data[::-1])
        with pytest.raises(safes3.TransferError, match="412"):
            f.read(6 * MIB)
    fs.pipe(f"{bucket}/dir/big", data)
    fs.mkdir(f"{bucket}/empty")
    assert not fs.exists(f"{bucket}/empty")
    check_encrypted(admin_s3, store, bucket, opts, key)
    fs.rm(f"{bucket}/dir", recursive=True)
    assert fs.find(bucket) == []


def test_put_get_and_copy(
    store: StoreInfo, admin_s3: S3Client, bucket: str, key: bytes, tmp_path: Path
) -> None:
    fs = fsspec.filesystem("safes3", **ssec_options(store, key))
    local = tmp_path / "in.bin"
    local.write_bytes(os.urandom(3 * MIB))
    fs.put(str(local), f"{bucket}/a/in.bin")
    fs.cp(f"{bucket}/a/in.bin", f"{bucket}/b/copy.bin")
    fs.get(f"{bucket}/b/copy.bin", str(tmp_path / "out.bin"))
    assert (tmp_path / "out.bin").read_bytes() == local.read_bytes()
    assert check_encrypted(admin_s3, store, bucket, fs.storage_options, key) == [
        "a/in.bin",
        "b/copy.bin",
    ]


def write_then_fail(fs: Any, path: str, size: int) -> None:
    with fs.open(path, "wb") as f:
        f.write(os.urandom(size))
        f.flush()
        raise RuntimeError("the producer failed")


def test_a_failed_write_leaves_nothing(
    store: StoreInfo, admin_s3: S3Client, bucket: str, key: bytes
) -> None:
    """An exception inside ``with fs.open(..., 'wb')`` aborts: no object, no open upload."""
    fs = fsspec.filesystem("safes3", **ssec_options(store, key, part_size_mib=5))
    for size in (1 * MIB, 11 * MIB):
        with pytest.raises(RuntimeError, match="producer"):
            write_then_fail(fs, f"{bucket}/partial", size)
    assert admin_s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
    assert admin_s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_pyarrow_through_fsspec_handler(
    store: StoreInfo, admin_s3: S3Client, bucket: str, key: bytes
) -> None:
    opts = ssec_options(store, key)
    pafs = PyFileSystem(FSSpecHandler(fsspec.filesystem("safes3", **opts)))
    table = pa.table({"x": list(range(1000))})
    pq.write_table(table, f"{bucket}/t.parquet", filesystem=pafs)
    assert pq.read_table(f"{bucket}/t.parquet", filesystem=pafs).equals(table)
    check_encrypted(admin_s3, store, bucket, opts, key)


def test_acl_refused_and_nothing_sent(store: StoreInfo, bucket: str, admin_s3: S3Client) -> None:
    fs = fsspec.filesystem("safes3", **options(store, "SSE-KMS"))
    with pytest.raises(safes3.ACLRefusedError):
        fs.pipe_file(f"{bucket}/k", b"x", acl="public-read")
    assert admin_s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


class JumpUntilRenewed:
    """The clock role credentials see: ``offset`` ahead until the credentials are renewed."""

    def __init__(self, offset: dt.timedelta) -> None:
        self.offset = offset
        self.credentials: RoleCredentials | None = None

    def __call__(self) -> dt.datetime:
        now = dt.datetime.now(dt.timezone.utc)
        if self.credentials is not None and self.credentials.generation > 0:
            return now
        return now + self.offset


def test_a_job_outliving_its_credentials_completes(
    store: StoreInfo, admin_s3: S3Client, bucket: str, key: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """900 s credentials; the clock jumps 800 s between the write and the read."""
    clock = JumpUntilRenewed(dt.timedelta(0))
    monkeypatch.setattr(_fsspec_options, "CLOCK", clock)
    opts = ssec_options(store, key, role_session_name="fsspec-expiry")
    fs = SafeS3FileSystem(**opts)
    fs.pipe(f"{bucket}/k", b"before")
    credentials: Any = fs.options.session()._boto.get_credentials()
    assert isinstance(credentials, RoleCredentials)
    first = credentials.get_frozen_credentials().access_key
    assert credentials.generation == 0
    clock.credentials, clock.offset = credentials, dt.timedelta(seconds=800)
    assert fs.cat(f"{bucket}/k") == b"before"
    fs.pipe(f"{bucket}/k2", b"after")
    assert credentials.generation == 1
    assert credentials.get_frozen_credentials().access_key != first
    check_encrypted(admin_s3, store, bucket, opts, key)
