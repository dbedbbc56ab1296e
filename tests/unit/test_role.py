"""AssumeRole settings, the refresh machinery and STS error translation, without a server."""

from __future__ import annotations

import datetime as dt
import json
import ssl
import threading
import types
from typing import Any

import certifi
import pytest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

import safes3
from safes3._credentials._expiry import looks_expired
from safes3._credentials._refresh import RoleCredentials
from safes3._credentials._sts import make_fetcher, sts_client, translate

ARN = "arn:aws:iam::123456789012:role/app"
SECRET = "s3cr3t-source-key-value"


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.now


class FakeSTS:
    """Stands in for the STS client: records each AssumeRole call's parameters."""

    def __init__(self, clock: Clock, duration: int = 900) -> None:
        self.calls: list[dict[str, Any]] = []
        self.clock = clock
        self.duration = duration
        self.lock = threading.Lock()

    def assume_role(self, **kwargs: Any) -> dict[str, Any]:
        with self.lock:
            self.calls.append(kwargs)
            n = len(self.calls)
        return {
            "Credentials": {
                "AccessKeyId": f"ASIA{n}",
                "SecretAccessKey": f"secret-{n}",
                "SessionToken": f"token-{n}",
                "Expiration": self.clock() + dt.timedelta(seconds=self.duration),
            }
        }


def role(**overrides: Any) -> safes3.AssumeRole:
    settings: dict[str, Any] = {"role_arn": ARN, "duration_seconds": 900}
    settings.update(overrides)
    return safes3.AssumeRole(**settings)


def credentials(r: safes3.AssumeRole, sts: FakeSTS) -> RoleCredentials:
    return RoleCredentials(r, make_fetcher(r, sts))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"role_arn": "arn:aws:iam::123:user/bob"}, "not an IAM role ARN"),
        ({"role_arn": "app"}, "not an IAM role ARN"),
        ({"duration_seconds": 899}, "900..43200"),
        ({"duration_seconds": 43201}, "900..43200"),
        ({"refresh_margin_seconds": 900}, "below duration_seconds"),
        ({"refresh_margin_seconds": 0}, "positive"),
        ({"mfa_serial": "arn:aws:iam::123456789012:mfa/bob"}, "mfa_token"),
        ({"mfa_token": lambda: "123456"}, "together with mfa_serial"),
        ({"session_name": "x"}, "session_name"),
        ({"session_policy": "{not json"}, "not valid JSON"),
        ({"session_policy": "[1, 2]"}, "JSON object"),
        ({"source": 42}, "source must be"),
    ],
)
def test_bad_settings_are_refused(overrides: dict[str, Any], match: str) -> None:
    with pytest.raises(safes3.ConfigurationError, match=match):
        role(**overrides)


def test_plain_http_sts_endpoint_is_refused_at_construction() -> None:
    with pytest.raises(safes3.InsecureTransportError, match="not HTTPS"):
        role(sts_endpoint_url="http://127.0.0.1:8080")


def test_ceph_style_arn_without_account_is_accepted() -> None:
    assert role(role_arn="arn:aws:iam:::role/safes3-test-role").role_arn.endswith("test-role")


def test_session_policy_is_sent_as_compact_json() -> None:
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Get*"}]}
    spaced = json.dumps(policy, indent=2)
    for given in (policy, spaced):
        sent = role(session_policy=given).assume_role_kwargs()["Policy"]
        assert " " not in sent
        assert "\n" not in sent
        assert json.loads(sent) == policy


def test_repr_shows_no_secrets() -> None:
    source = safes3.StaticCredentials(access_key_id="AKIAEXAMPLE", secret_access_key=SECRET)
    text = repr(role(source=source, external_id="ext-secret-id"))
    assert ARN in text
    assert SECRET not in text
    assert "ext-secret-id" not in text


def test_refresh_when_expiry_nears_asks_mfa_again() -> None:
    clock, codes = Clock(), iter(["111111", "222222", "333333"])
    r = role(
        mfa_serial="arn:aws:iam::123456789012:mfa/bob",
        mfa_token=lambda: next(codes),
        clock=clock,
        refresh_margin_seconds=300,
    )
    sts = FakeSTS(clock)
    creds = credentials(r, sts)
    assert creds.get_frozen_credentials().access_key == "ASIA1"
    clock.now += dt.timedelta(seconds=500)
    assert creds.get_frozen_credentials().access_key == "ASIA1"
    clock.now += dt.timedelta(seconds=200)
    assert creds.get_frozen_credentials().access_key == "ASIA2"
    assert [c["TokenCode"] for c in sts.calls] == ["111111", "222222"]
    assert creds.generation == 1


def test_concurrent_renewals_after_one_expiry_call_sts_once() -> None:
    clock = Clock()
    sts = FakeSTS(clock)
    creds = credentials(role(clock=clock), sts)
    seen = creds.generation
    threads = [threading.Thread(target=creds.renew, args=(seen,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(sts.calls) == 2
    assert creds.get_frozen_credentials().access_key == "ASIA2"


def _client_error(status: int, code: str = "", message: str = "") -> ClientError:
    response: dict[str, Any] = {"ResponseMetadata": {"HTTPStatusCode": status}}
    if code or message:
        response["Error"] = {"Code": code, "Message": message}
    return ClientError(response, "AssumeRole")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "duration", "reason"),
    [
        (_client_error(404), 900, "unknown-role"),
        (_client_error(404, "NoSuchEntity", "role not found"), 900, "unknown-role"),
        (_client_error(403), 900, "not-trusted"),
        (_client_error(403, "AccessDenied", "not authorized"), 900, "not-trusted"),
        (_client_error(400), 43200, "duration"),
        (_client_error(400, "ValidationError", "DurationSeconds exceeds"), 7200, "duration"),
        (_client_error(400), 900, "rejected"),
    ],
)
def test_sts_errors_are_translated(error: ClientError, duration: int, reason: str) -> None:
    translated = translate(error, role(duration_seconds=duration))
    assert translated.reason == reason
    assert ARN in str(translated)


def test_failed_sts_call_surfaces_as_role_assumption_error() -> None:
    class Refusing:
        def assume_role(self, **_: Any) -> dict[str, Any]:
            raise _client_error(403)

    with pytest.raises(safes3.RoleAssumptionError, match="trust policy"):
        RoleCredentials(role(), make_fetcher(role(), Refusing()))  # type: ignore[arg-type]


def test_only_expiry_shaped_refusals_count_as_expired() -> None:
    clock = Clock()
    creds = credentials(role(clock=clock), FakeSTS(clock))
    static = Credentials("AKIA", "secret")
    assert looks_expired("ExpiredToken", 400, static, None)
    assert not looks_expired("AccessDenied", 403, static, None)
    assert not looks_expired("AccessDenied", 403, creds, 0)
    assert not looks_expired("NoSuchKey", 404, creds, 0)
    assert looks_expired("", 403, creds, -1)
    clock.now += dt.timedelta(seconds=890)
    assert looks_expired("", 403, creds, 0)


def test_missing_source_profile_is_a_configuration_error(tmp_path: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "absent"))
    with pytest.raises(safes3.ConfigurationError, match="source profile 'nope'"):
        sts_client(role(source="nope"), ca_path=certifi.where(), region=None)


@pytest.mark.parametrize(
    ("raised", "reason"),
    [(ResponseParserError("not XML"), "rejected"), (ssl.SSLError("bad record mac"), "unreachable")],
)
def test_foreign_sts_failures_are_role_assumption_errors(raised: Exception, reason: str) -> None:
    """An answer botocore cannot parse (or a TLS failure) must not escape as botocore's own."""

    class Garbled:
        meta = types.SimpleNamespace(endpoint_url="https://sts.example")

        def assume_role(self, **_: Any) -> dict[str, Any]:
            raise raised

    with pytest.raises(safes3.RoleAssumptionError) as failed:
        RoleCredentials(role(), make_fetcher(role(), Garbled()))  # type: ignore[arg-type]
    assert failed.value.reason == reason
    assert failed.value.__cause__ is raised
