"""The engine's small pieces on their own: the failure table, the statistics, JSON lines.

Pure code, no store: what each kind of failure does to an upload (abort or
keep, which error), how retries are counted, and the shared JSON-lines file
(a torn last line cut off, a damaged middle line refused, both users).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from safes3._cli._rekey import StateFile
from safes3._exceptions import ConfigurationError, IntegrityError, TransferError
from safes3._transfer import _jsonlines as jsonlines
from safes3._transfer._stats import TransferStats, resent_inside
from safes3._transfer._uploadpolicy import StoreFailure, translate, verdict

WHERE = "s3://b/k"


def _denied() -> ClientError:
    answer: Any = {"Error": {"Code": "AccessDenied"}, "ResponseMetadata": {"HTTPStatusCode": 403}}
    return ClientError(answer, "UploadPart")


@pytest.mark.parametrize(
    ("error", "abort_journaled", "becomes_transfer_error"),
    [
        (IntegrityError("bad"), True, False),
        (StoreFailure("part 3 failed"), True, True),
        (_denied(), True, True),
        (EndpointConnectionError(endpoint_url="https://x"), True, True),
        (KeyboardInterrupt(), False, False),
        (OSError("source unreadable"), False, False),
        (ValueError("from the progress callback"), False, False),
    ],
)
def test_failure_table(
    error: BaseException, abort_journaled: bool, becomes_transfer_error: bool
) -> None:
    assert verdict(error).abort_journaled is abort_journaled
    raised = translate(WHERE, error, "the multipart upload was aborted")
    if becomes_transfer_error:
        assert isinstance(raised, TransferError)
        assert str(raised).startswith(f"upload of {WHERE} failed: ")
        assert str(raised).endswith("; the multipart upload was aborted")
    else:
        assert raised is error


def test_store_failure_message_kept_and_client_error_described() -> None:
    assert str(translate(WHERE, StoreFailure("part 3 failed"), None)) == (
        f"upload of {WHERE} failed: part 3 failed"
    )
    assert "AccessDenied (HTTP 403) from UploadPart" in str(translate(WHERE, _denied(), None))


def test_stats_count_retries_and_restarts() -> None:
    stats = TransferStats()
    on_retry = stats.counter(10)
    on_retry(1, RuntimeError())
    on_retry(2, RuntimeError())
    stats.retried(resent_inside({"ResponseMetadata": {"RetryAttempts": 1}}), 5)
    assert (stats.retries, stats.resent) == (3, 25)
    stats.moved = 7
    stats.restart()
    assert (stats.moved, stats.refetched) == (0, 7)


def test_jsonlines_torn_last_line_cut_and_damaged_middle_refused(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    jsonlines.replace(path, [{"a": 1}])
    jsonlines.append(path, {"b": 2})
    with path.open("ab") as fh:
        fh.write(b'{"c": ')
    assert jsonlines.read(path) == [{"a": 1}, {"b": 2}]
    assert path.read_bytes().endswith(b"}\n")
    path.write_bytes(b'{"a": 1}\nnot json\n{"b": 2}\n')
    with pytest.raises(jsonlines.DamagedLine, match="line 2"):
        jsonlines.read(path)


def test_rekey_state_file_uses_the_same_format(tmp_path: Path) -> None:
    path = tmp_path / "state"
    header = {"bucket": "b", "prefix": "p/"}
    StateFile(path, header).record("p/1")
    assert jsonlines.read(path) == [header, {"done": "p/1"}]
    path.write_bytes(path.read_bytes().replace(b'{"done"', b"{done", 1) + b'{"done":"p/2"}\n')
    with pytest.raises(ConfigurationError, match="line 2 is damaged"):
        StateFile(path, header)
