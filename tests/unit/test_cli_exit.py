"""The CLI's exit codes (docs/cli.md): usage 2, failure 1, interrupt 130, without a store.

Every usage error here is found before any setting is read or any request
is sent, so no store and no SAFES3_* variable is needed.
"""

from __future__ import annotations

import argparse
import ssl
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from safes3._cli._errors import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_USAGE, run
from safes3._cli._main import main


@pytest.fixture(autouse=True)
def _no_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SAFES3_ENDPOINT_URL", "SAFES3_CA_BUNDLE", "SAFES3_STORE", "SAFES3_ENCRYPTION"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["cp", "a", "b"], "at least one s3://"),
        (["cp", "a", "s3://"], "names no bucket"),
        (["cp", "s3://bucket", "out"], "give the source key"),
        (["cp", "-", "s3://bucket/"], "give the destination key"),
        (["ls", "bucket"], "not an s3://"),
        (["rm", "s3://bucket"], "give the key to delete"),
        (["policy", "b", "--deny-acl-changes", "--replace"], "add --apply"),
        (["policy", "b", "--allow-ip", "10.0.0.300/8"], "not an IP address"),
        (["policy", "b"], "at least one protection"),
        (["rekey", "s3://b/p", "--state", "st"], "--old-key"),
        (["sync", "a", "b"], "one end must be an s3://"),
        (["cp", "-r", "s3://b/x", "s3://b/x/y"], "overlap"),
        (["cp", "-r", "a", "s3://b/p", "--jobs", "0"], "--jobs"),
        (["cp", "-r", "a", "s3://b/p", "--memory-mib", "0"], "memory_limit"),
    ],
)
def test_usage_errors_exit_2(argv: list[str], said: str, capsys: Any) -> None:
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("safes3: error:")
    assert said in err


def test_parse_errors_exit_2() -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["cp"])
    assert stopped.value.code == EXIT_USAGE


def test_a_missing_setting_is_a_failure_not_usage(capsys: Any) -> None:
    assert main(["cp", "-", "s3://bucket/key"]) == EXIT_ERROR
    assert "choose an encryption" in capsys.readouterr().err


_INTERNAL: dict[str, Any] = {
    "Error": {"Code": "InternalError", "Message": "try again"},
    "ResponseMetadata": {"HTTPStatusCode": 500},
}


def _raising(exc: BaseException) -> Any:
    def command(_: argparse.Namespace) -> int:
        raise exc

    return command


@pytest.mark.parametrize(
    ("exc", "said"),
    [
        (ResponseParserError("unparsable body"), "ResponseParserError: unparsable body"),
        (ssl.SSLError("certificate verify failed"), "SSLError"),
        (OSError(28, "No space left on device"), "No space left"),
        (
            ClientError(_INTERNAL, "GetObject"),  # type: ignore[arg-type]
            "the store answered InternalError (HTTP 500) from GetObject: try again",
        ),
    ],
)
def test_foreign_errors_are_one_line_and_exit_1(exc: BaseException, said: str, capsys: Any) -> None:
    args = argparse.Namespace(command="cp")
    assert run(_raising(exc), args) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith("safes3: error:")
    assert said in err
    assert err.count("\n") == 1


def test_interrupt_exits_130(capsys: Any) -> None:
    assert run(_raising(KeyboardInterrupt()), argparse.Namespace()) == EXIT_INTERRUPTED
    assert "interrupted" in capsys.readouterr().err
