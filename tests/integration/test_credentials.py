"""Assumed-role credentials against the store's real STS.

What reached the wire is captured with ``before-send`` handlers (which
access key signed each request, whether a session token went along); what the
server stored is read back with a plain boto3 admin client.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import certifi
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

import safes3
from safes3._credentials._refresh import RoleCredentials
from tests.storeinfo import StoreInfo

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.store

MIB = 1024 * 1024
PARTS = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=2)
_CREDENTIAL = re.compile(r"Credential=([^/]+)/")


class Clock:
    """Real time plus a settable offset: lets a test make expiry 'near' at once."""

    def __init__(self) -> None:
        self.offset = dt.timedelta(0)

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc) + self.offset


def admin_source(store: StoreInfo) -> safes3.StaticCredentials:
    return safes3.StaticCredentials(
        access_key_id=store.admin.access_key, secret_access_key=store.admin.secret_key
    )


def role(store: StoreInfo, **overrides: Any) -> safes3.AssumeRole:
    settings: dict[str, Any] = {
        "role_arn": store.role_arn,
        "session_name": "safes3-tests",
        "source": admin_source(store),
        "sts_endpoint_url": store.sts_endpoint_url,
        "duration_seconds": 900,
    }
    settings.update(overrides)
    return safes3.AssumeRole(**settings)


def session(store: StoreInfo, credentials: Any, key: bytes, **extra: Any) -> safes3.Session:
    return safes3.Session(
        encryption=safes3.SSEC(key),
        endpoint_url=store.endpoint_url,
        ca_bundle=store.ca_bundle,
        store=store.extra["profile"],
        region=store.region,
        credentials=credentials,
        **extra,
    )


def capture(s3: S3Client) -> list[tuple[str, str, bool]]:
    """(operation, signing access key, session token sent) for each request sent."""
    seen: list[tuple[str, str, bool]] = []

    def on_send(request: Any, **_: Any) -> None:
        found = _CREDENTIAL.search(str(request.headers.get("Authorization", b""), "ascii"))
        token = "X-Amz-Security-Token" in request.headers
        seen.append((request.context.get("operation", "?"), found.group(1) if found else "", token))

    def on_call(model: Any, context: dict[str, Any], **_: Any) -> None:
        context["operation"] = model.name

    s3.meta.events.register("before-call.s3", on_call)
    s3.meta.events.register("before-send.s3", on_send)
    return seen


def current(s: safes3.Session) -> Credentials:
    """The session's live credentials object (private: no public API hands it out)."""
    found = s._boto.get_credentials()
    assert found is not None
    return found


def role_credentials(s: safes3.Session) -> RoleCredentials:
    found = current(s)
    assert isinstance(found, RoleCredentials)
    return found


def stored(admin_s3: S3Client, bucket: str, key: str, sse_key: bytes) -> bytes:
    body = admin_s3.get_object(
        Bucket=bucket, Key=key, SSECustomerAlgorithm="AES256", SSECustomerKey=sse_key
    )["Body"]
    return body.read()


def status_of(exc: pytest.ExceptionInfo[ClientError]) -> int:
    return int(exc.value.response["ResponseMetadata"]["HTTPStatusCode"])


def test_role_credentials_drive_the_whole_client(
    store: StoreInfo, admin_s3: S3Client, bucket: str
) -> None:
    key = os.urandom(32)
    s = session(store, role(store), key)
    s3 = s.client()
    seen = capture(s3)
    data = os.urandom(11 * MIB)
    s3.upload_fileobj(io.BytesIO(data), bucket, "multi", Config=PARTS)
    s3.put_object(Bucket=bucket, Key="small", Body=b"hello")
    assert s3.get_object(Bucket=bucket, Key="small")["Body"].read() == b"hello"

    temporary = current(s).get_frozen_credentials()
    assert temporary.token
    assert temporary.access_key != store.admin.access_key
    assert [op for op, _, _ in seen].count("UploadPart") == 3
    assert {signer for _, signer, _ in seen} == {temporary.access_key}
    assert all(token for _, _, token in seen)
    assert stored(admin_s3, bucket, "multi", key) == data
    assert stored(admin_s3, bucket, "small", key) == b"hello"


def test_session_policy_narrows_the_role(store: StoreInfo, admin_s3: S3Client, bucket: str) -> None:
    key = os.urandom(32)
    admin_s3.put_object(
        Bucket=bucket, Key="present", Body=b"x", SSECustomerAlgorithm="AES256", SSECustomerKey=key
    )
    read_only = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["*"]}],
    }
    s3 = session(store, role(store, session_policy=read_only), key).client()
    assert s3.get_object(Bucket=bucket, Key="present")["Body"].read() == b"x"
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=bucket, Key="new", Body=b"y")
    assert status_of(refused) == 403
    with pytest.raises(ClientError):
        admin_s3.head_object(
            Bucket=bucket, Key="new", SSECustomerAlgorithm="AES256", SSECustomerKey=key
        )


@pytest.fixture
def denying_role(store: StoreInfo) -> Iterator[str]:
    """A role whose own policy refuses writes: a Deny put on the role (Ceph), or
    the store's read-only role (SeaweedFS, whose roles are fixed at start)."""
    admin_cmd = store.extra.get("admin_cmd")
    if admin_cmd is None:
        yield str(store.extra["readonly_role_arn"])
        return
    deny = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": ["s3:PutObject"], "Resource": ["*"]}],
    }
    base = [*admin_cmd, "role-policy"]
    name = ["--role-name", store.role_name, "--policy-name", "safes3-test-deny"]
    doc = json.dumps(deny, separators=(",", ":"))
    subprocess.run([*base, "put", *name, "--policy-doc", doc], check=True, capture_output=True)
    try:
        yield store.role_arn
    finally:
        subprocess.run([*base, "delete", *name], check=True, capture_output=True)


def test_role_policy_deny_takes_effect(
    store: StoreInfo, bucket: str, denying_role: str, admin_s3: S3Client
) -> None:
    key = os.urandom(32)
    admin_s3.put_object(
        Bucket=bucket, Key="present", Body=b"x", SSECustomerAlgorithm="AES256", SSECustomerKey=key
    )
    s3 = session(store, role(store, role_arn=denying_role), key).client()
    assert s3.get_object(Bucket=bucket, Key="present")["Body"].read() == b"x"
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=bucket, Key="denied", Body=b"y")
    assert status_of(refused) == 403


def test_static_keys_are_refused_by_default(store: StoreInfo) -> None:
    with pytest.raises(safes3.StaticCredentialsRefusedError, match="AssumeRole") as refused:
        session(store, admin_source(store), os.urandom(32))
    assert store.admin.secret_key not in str(refused.value)


def test_refresh_before_expiry_keeps_an_upload_going(
    store: StoreInfo, admin_s3: S3Client, bucket: str
) -> None:
    """The clock jumps to 100 s before expiry as part 2 is signed: parts 2-4
    are signed with credentials from a second AssumeRole, part 1 with the first."""
    clock = Clock()
    key = os.urandom(32)
    s = session(store, role(store, clock=clock, refresh_margin_seconds=300), key)
    s3 = s.client()
    seen = capture(s3)
    credentials = role_credentials(s)
    first = credentials.get_frozen_credentials().access_key
    data = os.urandom(16 * MIB)

    def move_clock(request: Any, **_: Any) -> None:
        if credentials.generation == 0 and "partNumber=2" in request.url:
            clock.offset = dt.timedelta(seconds=800)
        elif credentials.generation > 0:
            clock.offset = dt.timedelta(0)

    s3.meta.events.register("before-sign.s3", move_clock)
    one_at_a_time = TransferConfig(
        multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=1
    )
    s3.upload_fileobj(io.BytesIO(data), bucket, "turnover", Config=one_at_a_time)

    assert credentials.generation == 1
    signers = [signer for op, signer, _ in seen if op == "UploadPart"]
    assert len(signers) == 4
    assert signers[0] == first
    assert len(set(signers[1:])) == 1
    assert signers[1] != first
    assert stored(admin_s3, bucket, "turnover", key) == data


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def _fake_error(request: Any, status: int, code: str) -> AWSResponse:
    body = f"<Error><Code>{code}</Code><Message>m</Message></Error>".encode()
    headers = HTTPHeaders()
    headers["Content-Type"] = "application/xml"
    return AWSResponse(request.url, status, headers, _Raw(body))


def test_expired_token_mid_upload_renews_and_retries_the_part(
    store: StoreInfo, admin_s3: S3Client, bucket: str
) -> None:
    """The second part is answered ``ExpiredToken`` once (as AWS does when a
    part arrives after expiry): it is re-signed with renewed credentials and
    sent again; the upload is not restarted."""
    key = os.urandom(32)
    s = session(store, role(store), key)
    s3 = s.client()
    seen = capture(s3)
    credentials = role_credentials(s)
    injected: list[int] = []

    def expire_second_part(request: Any, **_: Any) -> AWSResponse | None:
        if "partNumber=2" in request.url and not injected:
            injected.append(1)
            return _fake_error(request, 400, "ExpiredToken")
        return None

    s3.meta.events.register_first("before-send.s3", expire_second_part)  # type: ignore[arg-type]
    data = os.urandom(11 * MIB)
    s3.upload_fileobj(io.BytesIO(data), bucket, "expired", Config=PARTS)

    assert injected == [1]
    assert credentials.generation == 1
    ops = [op for op, _, _ in seen]
    assert ops.count("CreateMultipartUpload") == 1
    assert ops.count("UploadPart") == 4
    part2 = [signer for op, signer, _ in seen if op == "UploadPart"]
    assert len(set(part2)) == 2
    assert stored(admin_s3, bucket, "expired", key) == data


def test_an_ordinary_access_denied_is_not_retried(store: StoreInfo, bucket: str) -> None:
    s = session(store, role(store), os.urandom(32))
    s3 = s.client()
    sent: list[str] = []

    def deny(request: Any, **_: Any) -> AWSResponse:
        sent.append(request.url)
        return _fake_error(request, 403, "AccessDenied")

    s3.meta.events.register_first("before-send.s3", deny)  # type: ignore[arg-type]
    with pytest.raises(ClientError):
        s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert len(sent) == 1
    assert role_credentials(s).generation == 0


def write_aws_config(tmp_path: Path, store: StoreInfo, sts_url: str) -> tuple[Path, Path]:
    config, shared = tmp_path / "config", tmp_path / "credentials"
    config.write_text(
        f"[profile app]\nrole_arn = {store.role_arn}\nsource_profile = src\n"
        f"region = {store.region}\nrole_session_name = via-profile\nservices = teststore\n\n"
        f"[services teststore]\nsts =\n  endpoint_url = {sts_url}\n"
    )
    shared.write_text(
        f"[src]\naws_access_key_id = {store.admin.access_key}\n"
        f"aws_secret_access_key = {store.admin.secret_key}\n"
    )
    return config, shared


def test_aws_profile_with_role_arn_uses_the_safes3_ca(
    store: StoreInfo, admin_s3: S3Client, bucket: str, tmp_path: Path, monkeypatch: Any
) -> None:
    """boto3's own AssumeRoleProvider, with ``AWS_CA_BUNDLE`` pointing at a bundle
    that does not hold the store's CA: STS must still be verified with ours."""
    config, shared = write_aws_config(tmp_path, store, store.sts_endpoint_url)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(shared))
    monkeypatch.setenv("AWS_CA_BUNDLE", certifi.where())
    key = os.urandom(32)
    s = session(store, None, key, profile="app")
    s3 = s.client()
    seen = capture(s3)
    s3.put_object(Bucket=bucket, Key="p", Body=b"via profile")
    frozen = current(s).get_frozen_credentials()
    assert frozen.token
    assert frozen.access_key != store.admin.access_key
    assert seen == [("PutObject", frozen.access_key, True)]
    assert stored(admin_s3, bucket, "p", key) == b"via profile"


def test_plain_http_sts_in_a_profile_is_refused_before_sending(
    store: StoreInfo, tmp_path: Path, monkeypatch: Any
) -> None:
    """The listening socket is never accept()ed: a pending connection would show
    that something reached it."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        port = listener.getsockname()[1]
        config, shared = write_aws_config(tmp_path, store, f"http://127.0.0.1:{port}")
        monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(shared))
        with pytest.raises(safes3.InsecureTransportError, match="plain HTTP"):
            session(store, None, os.urandom(32), profile="app")
        with pytest.raises(BlockingIOError):
            listener.accept()


def test_unknown_role_and_untrusted_caller_are_explained(store: StoreInfo) -> None:
    unknown = store.role_arn.rsplit("/", 1)[0] + f"/missing-{uuid.uuid4().hex[:8]}"
    with pytest.raises(safes3.RoleAssumptionError) as missing:
        session(store, role(store, role_arn=unknown), os.urandom(32))
    assert missing.value.reason in {"unknown-role", "not-trusted"}
    assert unknown in str(missing.value)

    other = safes3.StaticCredentials(
        access_key_id=store.other.access_key, secret_access_key=store.other.secret_key
    )
    with pytest.raises(safes3.RoleAssumptionError, match="trust policy") as untrusted:
        session(store, role(store, source=other), os.urandom(32))
    assert untrusted.value.reason == "not-trusted"
    assert store.other.secret_key not in str(untrusted.value)


def test_sts_unreachable_is_explained(store: StoreInfo) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(safes3.RoleAssumptionError, match="unreachable") as failed:
        session(
            store,
            role(store, sts_endpoint_url=f"https://127.0.0.1:{port}"),
            os.urandom(32),
        )
    assert failed.value.reason == "unreachable"
