"""The ``safes3`` command driven as a subprocess against the live store(s)."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import signal
import ssl
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

import safes3
from tests.clients import client_for
from tests.storeinfo import StoreInfo

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.store


def _env(store: StoreInfo, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SAFES3_"))}
    env.update(
        SAFES3_ENDPOINT_URL=store.endpoint_url,
        SAFES3_CA_BUNDLE=store.ca_bundle,
        SAFES3_STORE=store.extra["profile"],
        SAFES3_ALLOW_STATIC_CREDENTIALS="1",
        AWS_ACCESS_KEY_ID=store.admin.access_key,
        AWS_SECRET_ACCESS_KEY=store.admin.secret_key,
        AWS_DEFAULT_REGION=store.region,
        AWS_CONFIG_FILE="/nonexistent",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
    )
    env.update(extra)
    return env


def _run(store: StoreInfo, *args: str, stdin: bytes = b"", **env: Any) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "safes3", *args],
        input=stdin,
        capture_output=True,
        env=_env(store, **env),
        timeout=120,
        check=False,
    )


def _key_b64() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def _ssec_client(store: StoreInfo, key_b64: str) -> Any:
    return client_for(store, safes3.SSEC.from_base64(key_b64))


def test_cp_round_trip_with_sse_c_key_from_env(
    store: StoreInfo, bucket: str, admin_s3: S3Client, tmp_path: Path
) -> None:
    key = _key_b64()
    data = os.urandom(300_000)
    (tmp_path / "in.bin").write_bytes(data)
    enc: dict[str, Any] = {"SAFES3_ENCRYPTION": "sse-c:MY_KEY", "MY_KEY": key}
    up = _run(store, "cp", str(tmp_path / "in.bin"), f"s3://{bucket}/a/in.bin", **enc)
    assert up.returncode == 0, up.stderr
    piped = _run(store, "cp", "-", f"s3://{bucket}/a/piped", stdin=b"from stdin", **enc)
    assert piped.returncode == 0, piped.stderr
    with pytest.raises(ClientError):  # stored SSE-C: unreadable without the key
        admin_s3.head_object(Bucket=bucket, Key="a/in.bin")
    down = _run(store, "cp", f"s3://{bucket}/a/in.bin", str(tmp_path / "out.bin"), **enc)
    assert down.returncode == 0, down.stderr
    assert (tmp_path / "out.bin").read_bytes() == data
    out = _run(store, "cp", f"s3://{bucket}/a/piped", "-", **enc)
    assert (out.returncode, out.stdout) == (0, b"from stdin")
    listing = _run(store, "ls", "--json", "-r", f"s3://{bucket}/a/")
    assert sorted(r["key"] for r in json.loads(listing.stdout)) == ["a/in.bin", "a/piped"]
    for proc in (up, piped, down, out, listing):
        assert key.encode() not in proc.stdout + proc.stderr
    wrong = _run(store, "cp", f"s3://{bucket}/a/piped", "-", **{**enc, "MY_KEY": _key_b64()})
    assert wrong.returncode == 1
    assert wrong.stderr.startswith(b"safes3: error:")
    bad = _run(store, "cp", "-", f"s3://{bucket}/x", stdin=b"x")
    assert bad.returncode == 1
    assert b"choose an encryption" in bad.stderr
    assert _run(store, "cp").returncode == 2


def _make_bad_bucket(store: StoreInfo, s3: S3Client, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="plain", Body=b"unencrypted")
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    s3.put_object_acl(Bucket=bucket, Key="plain", ACL="public-read")
    allow_all = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            },
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": f"arn:aws:s3:::{bucket}/*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(allow_all))
    s3.create_multipart_upload(Bucket=bucket, Key="forgotten")


def _make_good_bucket(store: StoreInfo, s3: S3Client, bucket: str) -> None:
    profile = safes3.PROFILES[store.extra["profile"]]
    s3.put_object(
        Bucket=bucket,
        Key="kms",
        Body=b"secret",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=store.kms_key_ids[0],
        ContentMD5=base64.b64encode(hashlib.md5(b"secret").digest()).decode(),  # noqa: S324
    )
    ssec = _ssec_client(store, _key_b64())
    ssec.put_object(Bucket=bucket, Key="ssec", Body=b"customer")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "abort",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                }
            ]
        },
    )
    from safes3._cli import _policygen as pg

    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=pg.dumps(pg.bucket_policy(pg.deny_insecure_transport(bucket, profile))),
    )
    if profile.public_access_block:
        from safes3._cli._auditaccess import proposed_public_access_block

        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration=proposed_public_access_block(profile),  # type: ignore[arg-type]
        )
    if profile.default_encryption:
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )


def test_audit_raises_each_finding_only_where_the_problem_is(
    store: StoreInfo, admin_s3: S3Client, tmp_path: Path
) -> None:
    profile = safes3.PROFILES[store.extra["profile"]]
    names = [f"t-audit-{os.urandom(6).hex()}" for _ in range(2)]
    from tests.conftest import empty_bucket

    for name in names:
        admin_s3.create_bucket(Bucket=name)
    try:
        _make_bad_bucket(store, admin_s3, names[0])
        _make_good_bucket(store, admin_s3, names[1])
        sarif = tmp_path / "audit.sarif"
        proc = _run(store, "audit", "--json", "--sarif", str(sarif), *names)
        assert proc.returncode == 6, proc.stderr
        bad, good = json.loads(proc.stdout)["buckets"]
        bad_checks = {f["check"] for f in bad["findings"]}
        good_checks = {f["check"] for f in good["findings"]}
        expected = {
            "public-acl",
            "policy-public",
            "versioning-off",
            "no-abort-multipart-rule",
            "unfinished-multipart",
            "unencrypted-objects",
        }
        if not profile.bool_secure_transport:
            expected.add("tls-deny-not-enforced")
        if profile.public_access_block:
            expected.add("public-access-block")
        if profile.default_encryption:
            expected.add("no-default-encryption")
        assert expected <= bad_checks
        assert not (expected | {"no-tls-deny"}) & good_checks, good["findings"]
        assert any(f["key"] == "plain" for f in bad["findings"] if f["check"] == "public-acl")
        assert bad["inventory"]["none"]["objects"] == 1
        assert good["inventory"]["SSE-KMS"] == {"objects": 1, "bytes": 6}
        assert good["inventory"]["SSE-C"] == {"objects": 1, "bytes": 8}
        log = json.loads(sarif.read_text())
        assert log["version"] == "2.1.0"
        assert {r["ruleId"] for r in log["runs"][0]["results"]} == bad_checks | good_checks
        table = _run(store, "audit", names[1])
        assert table.returncode in {0, 3}
        assert b"Inventory" in table.stdout
        assert admin_s3.head_bucket(Bucket=names[1])  # still there: audit only read
    finally:
        for name in names:
            admin_s3.delete_bucket_policy(Bucket=name)
            empty_bucket(admin_s3, name)
            admin_s3.delete_bucket(Bucket=name)


def _get_from(url: str, ca: str, source: str) -> int:
    parts = urlsplit(url)
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        ctx = ssl.create_default_context(cafile=ca)
        conn = http.client.HTTPSConnection(
            parts.hostname or "", parts.port, context=ctx, source_address=(source, 0), timeout=30
        )
    else:
        conn = http.client.HTTPConnection(
            parts.hostname or "", parts.port, source_address=(source, 0), timeout=30
        )
    conn.request("GET", f"{parts.path}?{parts.query}")
    status = conn.getresponse().status
    conn.close()
    return status


def test_generated_policy_is_applied_and_enforced(
    store: StoreInfo, bucket: str, admin_s3: S3Client
) -> None:
    admin_s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    proc = _run(
        store,
        "policy",
        bucket,
        "--deny-insecure-transport",
        "--allow-ip",
        "127.0.0.1/32",
        "--deny-acl-changes",
        "--require-encryption",
        "sse-kms",
        "--apply",
    )
    try:
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["Version"] == "2012-10-17"
        assert b"verified" in proc.stderr
        url = admin_s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"})
        assert _get_from(url, store.ca_bundle, "127.0.0.1") == 200
        assert _get_from(url, store.ca_bundle, "127.0.0.2") == 403
        http_url = url.replace(store.endpoint_url, store.http_endpoint_url)
        assert _get_from(http_url, store.ca_bundle, "127.0.0.1") == 403
        with pytest.raises(ClientError):
            admin_s3.put_object_acl(Bucket=bucket, Key="k", ACL="public-read")
        with pytest.raises(ClientError):
            admin_s3.put_object(Bucket=bucket, Key="g", Body=b"g", ServerSideEncryption="garbage")  # type: ignore[arg-type]
        kms = client_for(store, safes3.SSEKMS(store.kms_key_ids[0]))
        part = os.urandom(5 * 1024 * 1024)
        up = kms.create_multipart_upload(Bucket=bucket, Key="mp")
        etags = [
            kms.upload_part(
                Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=n, Body=part
            )["ETag"]
            for n in (1, 2)
        ]
        kms.complete_multipart_upload(
            Bucket=bucket,
            Key="mp",
            UploadId=up["UploadId"],
            MultipartUpload={
                "Parts": [{"PartNumber": n, "ETag": e} for n, e in ((1, etags[0]), (2, etags[1]))]
            },
        )
        assert admin_s3.head_object(Bucket=bucket, Key="mp")["ServerSideEncryption"] == "aws:kms"
    finally:
        admin_s3.delete_bucket_policy(Bucket=bucket)


def test_apply_adds_to_the_existing_policy_and_replace_replaces_it(
    store: StoreInfo, bucket: str, admin_s3: S3Client
) -> None:
    """The bucket owner's own statement survives --apply and is still enforced."""
    admin_s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    keep = {
        "Sid": "OwnersKeepObjects",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:DeleteObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }
    admin_s3.put_bucket_policy(
        Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [keep]})
    )
    try:
        proc = _run(store, "policy", bucket, "--deny-acl-changes", "--apply")
        assert proc.returncode == 0, proc.stderr
        assert b"kept 1 existing statement" in proc.stderr
        stored = json.loads(admin_s3.get_bucket_policy(Bucket=bucket)["Policy"])
        sids = [stmt["Sid"] for stmt in stored["Statement"]]
        assert sids == ["OwnersKeepObjects", "DenyACLChanges"]
        with pytest.raises(ClientError, match="AccessDenied"):
            admin_s3.delete_object(Bucket=bucket, Key="k")
        with pytest.raises(ClientError, match="AccessDenied"):
            admin_s3.put_object_acl(Bucket=bucket, Key="k", ACL="public-read")

        again = _run(store, "policy", bucket, "--deny-acl-changes", "--apply")
        assert again.returncode == 0, again.stderr
        stored = json.loads(admin_s3.get_bucket_policy(Bucket=bucket)["Policy"])
        assert [stmt["Sid"] for stmt in stored["Statement"]] == sids

        replaced = _run(store, "policy", bucket, "--deny-acl-changes", "--apply", "--replace")
        assert replaced.returncode == 0, replaced.stderr
        stored = json.loads(admin_s3.get_bucket_policy(Bucket=bucket)["Policy"])
        assert [stmt["Sid"] for stmt in stored["Statement"]] == ["DenyACLChanges"]
        admin_s3.delete_object(Bucket=bucket, Key="k")
    finally:
        admin_s3.delete_bucket_policy(Bucket=bucket)


def test_replace_without_apply_is_refused(store: StoreInfo, bucket: str) -> None:
    proc = _run(store, "policy", bucket, "--deny-acl-changes", "--replace")
    assert proc.returncode != 0
    assert b"add --apply" in proc.stderr
    assert proc.stdout == b""


def test_rekey_rotates_a_prefix_and_resumes_after_a_kill(
    store: StoreInfo, bucket: str, tmp_path: Path
) -> None:
    old, new = _key_b64(), _key_b64()
    old_s3, new_s3 = _ssec_client(store, old), _ssec_client(store, new)
    keys = [f"p/{n:02d}" for n in range(12)]
    for k in keys:
        old_s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    old_s3.put_object(Bucket=bucket, Key="other", Body=b"outside the prefix")
    with pytest.raises(ClientError):
        new_s3.get_object(Bucket=bucket, Key=keys[0])
    state = tmp_path / "state.jsonl"
    args = [
        "rekey",
        f"s3://{bucket}/p/",
        "--old-key",
        "env:OLD",
        "--new-key",
        "env:NEW",
        "--state",
        str(state),
        "--json",
    ]
    child = subprocess.Popen(
        [sys.executable, "-m", "safes3", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(store, OLD=old, NEW=new),
    )
    assert child.stdout is not None
    for _ in range(2):
        assert json.loads(child.stdout.readline())["status"] == "done"
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    child.stdout.close()
    assert child.stderr is not None
    child.stderr.close()
    first = [json.loads(line) for line in state.read_text().splitlines()]
    done_first = {e["done"] for e in first[1:]}
    assert 2 <= len(done_first) < len(keys)
    assert old not in state.read_text()
    assert new not in state.read_text()
    proc = _run(store, *args, OLD=old, NEW=new)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert {e["key"] for e in lines if "key" in e} == set(keys) - done_first
    assert lines[-1]["failed"] == {}
    for k in keys:
        assert new_s3.get_object(Bucket=bucket, Key=k)["Body"].read() == k.encode()
        with pytest.raises(ClientError):
            old_s3.get_object(Bucket=bucket, Key=k)
    assert old_s3.get_object(Bucket=bucket, Key="other")["Body"].read() == b"outside the prefix"
