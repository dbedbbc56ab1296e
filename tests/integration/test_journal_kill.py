"""The resume journal survives a real process killed at random points, including mid-write.

A child process uploads to the real store with a journal and is killed with
SIGKILL: either by this test after a random delay, or by itself in the
middle of writing a journal line (``os.write`` is wrapped in the child so
that, for one part line chosen at random, it writes a random prefix of the
line and then kills the process: the file is left exactly as a write cut
short by a crash leaves it).  The test then resumes in this process from
whatever the journal holds and checks the stored object byte for byte.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import safes3
from safes3._transfer._journal import Journal
from tests.clients import client_for
from tests.integration.test_transfers import uploads_left
from tests.storeinfo import StoreInfo

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.store

MiB = 1 << 20
PART = 5 * MiB
SETTINGS = safes3.TransferSettings(part_size=PART, max_concurrency=2, sleep=lambda _s: None)

_CHILD = r"""
import os, random, signal, sys
import safes3
from tests.clients import client_for
from tests.storeinfo import StoreInfo

store_path, source, bucket, journal, mode, seed = sys.argv[1:7]
store = StoreInfo.load(store_path)
rng = random.Random(int(seed))
if mode == "mid-write":
    victim = rng.randint(1, 6)
    seen = [0]
    real_write = os.write

    def torn_write(fd, data):
        if bytes(data[:8]) == b'{"part":':
            seen[0] += 1
            if seen[0] == victim:
                real_write(fd, bytes(data[: rng.randint(1, len(data) - 2)]))
                os.kill(os.getpid(), signal.SIGKILL)
        return real_write(fd, data)

    os.write = torn_write
safes3.upload(
    client_for(store, safes3.SSEKMS(store.kms_key_ids[0])), source, bucket, "obj",
    settings=safes3.TransferSettings(part_size=5 << 20, max_concurrency=1),
    journal=journal,
)
"""


def _child(store: StoreInfo, source: Path, bucket: str, journal: Path, mode: str, seed: int) -> Any:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    argv = [store.path, str(source), bucket, str(journal), mode, str(seed)]
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.mark.parametrize("mode", ["mid-write", "random-time"])
def test_a_process_killed_anywhere_resumes_to_the_right_object(
    store: StoreInfo, bucket: str, admin_s3: S3Client, tmp_path: Path, mode: str
) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    data = os.urandom(8 * PART + 1234)
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    journal = tmp_path / "upload.journal"
    child = _child(store, source, bucket, journal, mode, seed)
    if mode == "random-time":
        deadline = time.monotonic() + 60
        while not journal.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.4))
        child.send_signal(signal.SIGKILL)
    _, err = child.communicate(timeout=180)
    finished = mode == "random-time" and child.returncode == 0  # killed after the end
    assert finished or child.returncode == -signal.SIGKILL, (seed, err.decode()[-2000:])
    if mode == "mid-write":
        assert not journal.read_bytes().endswith(b"\n"), f"seed {seed}: no torn line"
    before = Journal.load(journal)  # a torn last line is not an error
    assert finished or before is not None
    s3 = client_for(store, safes3.SSEKMS(store.kms_key_ids[0]))
    result = safes3.upload(s3, source, bucket, "obj", settings=SETTINGS, journal=journal)
    if before is not None:
        assert result.parts_resumed <= len(before.parts)
    assert admin_s3.get_object(Bucket=bucket, Key="obj")["Body"].read() == data, f"seed {seed}"
    assert uploads_left(admin_s3, bucket) == []
    assert not journal.exists()
