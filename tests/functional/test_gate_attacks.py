"""Attacks on the guarantees, each asserting what reached which port of the recorder.

No store is needed: :mod:`tests.recorder` records every request and
connection on a trusted HTTPS port, a plain-HTTP port and an HTTPS port under
another CA.  Its answers are canned (see its docstring); only the records
are asserted on.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import boto3.crt
import boto3.s3.transfer
import botocore.signers
import pytest
from botocore.config import Config as BotocoreConfig
from s3transfer.crt import CRTTransferManager

import safes3
from safes3._core._gate import gate_of
from safes3._core._operations import OPERATIONS
from safes3._credentials._sts import sts_client
from tests.recorder import Recorder, client_on, recording_server

KMS = safes3.SSEKMS("key-1")


@pytest.fixture(scope="module")
def rec() -> Iterator[Recorder]:
    with recording_server() as server:
        yield server


@pytest.fixture(autouse=True)
def _clean(rec: Recorder) -> None:
    rec.clear()


def make(rec: Recorder, encryption: safes3.Encryption = KMS, **extra: Any) -> Any:
    return client_on(rec, encryption, **extra)


def test_the_recorder_sees_an_honest_put(rec: Recorder) -> None:
    s3 = make(rec)
    s3.put_object(Bucket="b", Key="k", Body=b"x")
    [sent] = rec.on("https")
    assert sent.method == "PUT"
    assert sent.headers["x-amz-server-side-encryption"] == "aws:kms"
    assert sent.headers["x-amz-server-side-encryption-aws-kms-key-id"] == "key-1"


def test_acl_header_added_at_before_sign_never_leaves(rec: Recorder) -> None:
    s3 = make(rec)

    def add_acl(request: Any, **_: Any) -> None:
        request.headers["x-amz-acl"] = "public-read"

    s3.meta.events.register("before-sign.s3.PutObject", add_acl)
    with pytest.raises(safes3.ACLRefusedError, match="x-amz-acl"):
        s3.put_object(Bucket="b", Key="k", Body=b"x")
    assert rec.requests == []


def test_url_rewritten_to_http_by_a_later_before_send_handler(rec: Recorder) -> None:
    s3 = make(rec, safes3.SSEC.generate())

    def downgrade(request: Any, **_: Any) -> None:
        request.url = request.url.replace(rec.https_url, rec.http_url)

    s3.meta.events.register_last("before-send.s3", downgrade)
    with pytest.raises(safes3.InsecureTransportError, match="not HTTPS"):
        s3.put_object(Bucket="b", Key="k", Body=b"x")
    assert rec.connections.get("http", 0) == 0
    assert rec.requests == []


def test_url_redirected_to_another_server_is_refused(rec: Recorder) -> None:
    s3 = make(rec)

    def redirect(request: Any, **_: Any) -> None:
        request.url = request.url.replace(rec.https_url, rec.other_url)

    s3.meta.events.register_last("before-send.s3", redirect)
    with pytest.raises(safes3.InsecureTransportError, match="not the configured endpoint"):
        s3.get_object(Bucket="b", Key="k")
    assert rec.connections.get("other", 0) == 0


@pytest.mark.parametrize(
    ("suffix", "error"),
    [
        ("?acl", safes3.ACLRefusedError),
        ("?newthing", safes3.OperationRefusedError),
        ("?ownershipControls", safes3.OperationRefusedError),
    ],
)
def test_put_turned_into_another_operation(rec: Recorder, suffix: str, error: type) -> None:
    s3 = make(rec)

    def retarget(request: Any, **_: Any) -> None:
        request.url += suffix

    s3.meta.events.register_last("before-send.s3", retarget)
    with pytest.raises(error):
        s3.put_object(Bucket="b", Key="k", Body=b"<x/>")
    assert rec.requests == []


def test_encryption_header_dropped_or_replaced_after_the_checks(rec: Recorder) -> None:
    s3 = make(rec)

    def drop(request: Any, **_: Any) -> None:
        del request.headers["x-amz-server-side-encryption"]

    s3.meta.events.register_last("before-send.s3", drop)
    with pytest.raises(safes3.EncryptionPolicyError, match="without the SSE-KMS header"):
        s3.put_object(Bucket="b", Key="k", Body=b"x")
    s3.meta.events.unregister("before-send.s3", drop)

    def weaken(request: Any, **_: Any) -> None:
        request.headers["X-Amz-Server-Side-Encryption"] = "AES256"

    s3.meta.events.register_last("before-send.s3", weaken)
    with pytest.raises(safes3.EncryptionPolicyError, match="without the SSE-KMS header"):
        s3.put_object(Bucket="b", Key="k", Body=b"x")
    assert rec.requests == []


def test_grants_and_ownership_in_bodies_are_refused(rec: Recorder) -> None:
    s3 = make(rec)
    grant = {
        "Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
        "Permission": "READ",
    }
    with pytest.raises(safes3.OperationRefusedError, match="results as new objects"):
        s3.restore_object(
            Bucket="b",
            Key="k",
            RestoreRequest={
                "OutputLocation": {
                    "S3": {"BucketName": "o", "Prefix": "p", "AccessControlList": [grant]}
                }
            },
        )
    with pytest.raises(safes3.OperationRefusedError, match="allow_operations"):
        s3.put_bucket_ownership_controls(
            Bucket="b", OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]}
        )
    off = dict.fromkeys(
        ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"),
        False,
    )
    with pytest.raises(safes3.OperationRefusedError, match="BlockPublicAcls"):
        s3.put_public_access_block(Bucket="b", PublicAccessBlockConfiguration=off)
    public = {
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}],
    }
    with pytest.raises(safes3.OperationRefusedError, match="allows everyone"):
        s3.put_bucket_policy(Bucket="b", Policy=json.dumps(public))
    with pytest.raises(safes3.OperationRefusedError):
        s3.delete_public_access_block(Bucket="b")
    assert rec.requests == []
    on = {k: True for k in off}
    s3.put_public_access_block(Bucket="b", PublicAccessBlockConfiguration=on)
    s3.put_bucket_ownership_controls(
        Bucket="b", OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    assert [r.query_keys for r in rec.on("https")] == [{"publicaccessblock"}, {"ownershipcontrols"}]


def test_allow_operations_lets_a_named_loosening_through(rec: Recorder) -> None:
    s3 = make(rec, allow_operations={"DeletePublicAccessBlock"})
    s3.delete_public_access_block(Bucket="b")
    assert [r.method for r in rec.on("https")] == ["DELETE"]
    with pytest.raises(safes3.ConfigurationError, match="never"):
        make(rec, allow_operations={"PutObjectAcl"})


def test_forwarding_proxy_refused_at_construction_and_at_the_gate(rec: Recorder) -> None:
    forwarding = BotocoreConfig(
        proxies={"https": rec.other_url},
        proxies_config={"proxy_use_forwarding_for_https": True},
    )
    with pytest.raises(safes3.InsecureTransportError, match="forwarding"):
        make(rec, botocore_config=forwarding)
    s3 = make(rec, botocore_config=BotocoreConfig(proxies={"https": rec.other_url}))
    inner = s3._endpoint.http_session._inner
    inner._proxy_config._proxies_settings["proxy_use_forwarding_for_https"] = True
    with pytest.raises(safes3.InsecureTransportError, match="in the clear"):
        s3.get_object(Bucket="b", Key="k", SSECustomerKey=b"k" * 32)
    assert rec.connections.get("other", 0) == 0


def test_verification_turned_off_on_the_connection_is_refused(rec: Recorder) -> None:
    s3 = make(rec)
    s3._endpoint.http_session._inner._verify = False
    with pytest.raises(safes3.InsecureTransportError, match="CA bundle"):
        s3.list_objects_v2(Bucket="b")
    assert rec.requests == []


def test_crt_transfer_client_refused_on_a_guarded_client(rec: Recorder) -> None:
    """boto3 builds a CRT client only where it wins a machine-wide lock; either way, no CRT."""
    import awscrt  # noqa: F401  (the dev extras install it: the CRT path exists only with it)

    s3 = make(rec)
    config = boto3.s3.transfer.TransferConfig(preferred_transfer_client="crt")
    refused = None
    try:
        transfer = boto3.s3.transfer.S3Transfer(client=s3, config=config)  # type: ignore[arg-type]
    except safes3.InsecureTransportError as exc:
        refused = str(exc)
    else:
        assert not isinstance(transfer._manager, CRTTransferManager)  # type: ignore[attr-defined]
    assert refused is None or "CRT" in refused
    with pytest.raises(safes3.InsecureTransportError, match="CRT"):
        boto3.crt.is_crt_compatible_request(s3, object())  # type: ignore[arg-type]
    assert rec.requests == []


def test_presigned_url_method_swap_and_lifetime(rec: Recorder) -> None:
    s3 = make(rec)
    with pytest.raises(safes3.OperationRefusedError, match="GET operation"):
        s3.generate_presigned_url(
            "get_object", Params={"Bucket": "b", "Key": "k"}, HttpMethod="PUT"
        )
    with pytest.raises(safes3.ConfigurationError, match="longer than"):
        s3.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"}, ExpiresIn=7200)
    with pytest.raises(safes3.OperationRefusedError):
        s3.generate_presigned_url("put_bucket_policy", Params={"Bucket": "b", "Policy": "{}"})
    params = {"Bucket": "b", "Key": "k"}
    with pytest.raises(safes3.OperationRefusedError, match="could add an ACL"):
        s3.generate_presigned_url("put_object", Params=params)
    s3 = make(rec, store="seaweedfs")
    url = s3.generate_presigned_url("put_object", Params=params)
    assert params == {"Bucket": "b", "Key": "k"}
    signed = url.split("X-Amz-SignedHeaders=")[1].split("&")[0]
    assert "x-amz-server-side-encryption" in signed
    assert "x-amz-server-side-encryption-aws-kms-key-id" in signed


def test_presigned_post_gets_encryption_and_refuses_acl(rec: Recorder) -> None:
    s3 = make(rec)
    with pytest.raises(safes3.ACLRefusedError):
        s3.generate_presigned_post("b", "k", Fields={"acl": "public-read"})
    with pytest.raises(safes3.ACLRefusedError):
        s3.generate_presigned_post("b", "k", Conditions=[["eq", "$acl", "public-read"]])
    with pytest.raises(safes3.EncryptionConflictError):
        s3.generate_presigned_post("b", "k", Fields={"x-amz-server-side-encryption": "AES256"})
    form = s3.generate_presigned_post("b", "k")
    assert form["fields"]["x-amz-server-side-encryption"] == "aws:kms"
    policy = json.loads(base64.b64decode(form["fields"]["policy"]))
    assert {"x-amz-server-side-encryption": "aws:kms"} in policy["conditions"]
    assert {"x-amz-server-side-encryption-aws-kms-key-id": "key-1"} in policy["conditions"]


def test_presigned_post_under_ssec_pins_the_key_without_holding_it(rec: Recorder) -> None:
    key = safes3.SSEC.generate()
    form = make(rec, key).generate_presigned_post("b", "k")
    text = json.dumps(form)
    assert key.customer_params["SSECustomerKey"] not in text
    policy = json.loads(base64.b64decode(form["fields"]["policy"]))
    assert {"x-amz-server-side-encryption-customer-key-md5": key.key_md5} in policy["conditions"]


def test_is_guarded_notices_a_removed_handler(rec: Recorder) -> None:
    s3 = make(rec)
    assert safes3.is_guarded(s3)
    s3.meta.events.unregister("after-call.s3", unique_id="safes3-proof")
    assert not safes3.is_guarded(s3)
    assert not hasattr(safes3.Session, "boto3_session")


def test_sts_clients_are_gated_too(rec: Recorder) -> None:
    role = safes3.AssumeRole(
        role_arn="arn:aws:iam::000000000000:role/r",
        sts_endpoint_url=rec.https_url,
        source=safes3.StaticCredentials(
            access_key_id="AKIDSTS", secret_access_key="sts-source-secret-0123456789"
        ),
    )
    sts = sts_client(role, ca_path=rec.ca_bundle, region="us-east-1")
    assert gate_of(sts) is not None

    def redirect(request: Any, **_: Any) -> None:
        request.url = request.url.replace(rec.https_url, rec.other_url)

    sts.meta.events.register_last("before-send.sts", redirect)
    with pytest.raises(safes3.InsecureTransportError, match="not the configured endpoint"):
        sts.assume_role(RoleArn=role.role_arn, RoleSessionName="session-1")
    assert rec.connections.get("other", 0) == 0


def test_presigning_around_the_client_methods_is_caught_at_the_signer(rec: Recorder) -> None:
    """botocore's module functions, called with the client, skip the client's methods."""
    s3 = make(rec)
    with pytest.raises(safes3.OperationRefusedError, match="GET operation"):
        botocore.signers.generate_presigned_url(
            s3, "get_object", Params={"Bucket": "b", "Key": "k"}, HttpMethod="PUT"
        )
    with pytest.raises(safes3.EncryptionPolicyError, match="exact condition"):
        botocore.signers.generate_presigned_post(s3, "b", "k")
    with pytest.raises(safes3.ACLRefusedError):
        botocore.signers.generate_presigned_post(s3, "b", "k", Fields={"acl": "public-read"})


def test_an_operation_missing_from_the_table_is_refused_at_run_time(
    rec: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a botocore upgrade adding an operation looks like to the gate."""
    s3 = make(rec)
    monkeypatch.delitem(OPERATIONS, "ListObjectsV2")
    with pytest.raises(safes3.OperationRefusedError, match="not in safes3's operation table"):
        s3.list_objects_v2(Bucket="b")
    assert rec.requests == []
