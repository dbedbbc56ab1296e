"""The operation table and the routes the gate reads back from the wire, offline.

Every operation of the installed botocore's S3 model must be classified; a
request for each one, serialised by botocore itself, must route back to that
operation.  Nothing here talks to a server.
"""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import pytest
from botocore.awsrequest import AWSRequest, prepare_request_dict
from botocore.model import Shape
from botocore.serialize import create_serializer

from safes3._core._operations import NEVER, OPERATIONS, Kind, loosening
from safes3._core._routes import Router, path_kind

MODEL = botocore.session.get_session().get_service_model("s3")
ROUTER = Router(MODEL)
ENDPOINT = "https://store.example:8443"
UNROUTABLE = {"WriteGetObjectResponse"}
"""Sent to a path of its own on a host prefix, not to a bucket: refused as unknown."""


def test_every_model_operation_is_classified_and_nothing_else() -> None:
    assert set(OPERATIONS) == set(MODEL.operation_names), (
        "botocore's S3 model and safes3's operation table differ: classify the new "
        "operations in safes3/_core/_operations.py (the gate refuses them until then)"
    )


def _value(shape: Shape, depth: int = 0) -> Any:
    if shape.type_name == "structure":
        members = shape.members  # type: ignore[attr-defined]
        return {n: _value(members[n], depth + 1) for n in shape.required_members}
    if shape.type_name == "list":
        return [_value(shape.member, depth + 1)] if depth < 3 else []  # type: ignore[attr-defined]
    if shape.type_name == "map":
        return {}
    if shape.type_name in ("integer", "long"):
        return 1
    if shape.type_name == "boolean":
        return True
    if shape.type_name == "timestamp":
        return 0
    if shape.type_name == "blob":
        return b"x"
    enum = shape.enum  # type: ignore[attr-defined]
    return enum[0] if enum else "v1"


def _wire(name: str) -> tuple[str, str, dict[str, str]]:
    op = MODEL.operation_model(name)
    params = _value(op.input_shape) if op.input_shape is not None else {}
    if "Bucket" in params:
        params["Bucket"] = "bkt"
    if "Key" in params:
        params["Key"] = "some/key"
    request_dict = create_serializer("rest-xml", include_validation=False).serialize_to_request(
        params, op
    )
    prepare_request_dict(request_dict, ENDPOINT)
    prepared = AWSRequest(
        method=request_dict["method"], url=request_dict["url"], headers=request_dict["headers"]
    ).prepare()
    return prepared.method, prepared.url, {k.lower(): str(v) for k, v in prepared.headers.items()}


@pytest.mark.parametrize("name", sorted(set(MODEL.operation_names) - UNROUTABLE))
def test_a_request_routes_back_to_its_operation(name: str) -> None:
    method, url, headers = _wire(name)
    path, _, query = url.removeprefix(ENDPOINT).partition("?")
    found = ROUTER.operations(
        method, path_kind(path, bucket_in_host=False), query, frozenset(headers)
    )
    assert name in found
    ties = set(found) - {name}
    assert all(OPERATIONS[t].kind == OPERATIONS[name].kind for t in ties), (name, found)


def test_what_the_wire_cannot_tell_apart_is_checked_as_all_of_them() -> None:
    method, url, headers = _wire("PutObject")
    path, _, query = url.removeprefix(ENDPOINT).partition("?")
    kind = path_kind(path, bucket_in_host=False)
    assert ROUTER.operations(method, kind, query, frozenset(headers)) == ("PutObject",)
    copy = ROUTER.operations(method, kind, query, frozenset(headers) | {"x-amz-copy-source"})
    assert copy == ("CopyObject",)
    assert ROUTER.operations("PUT", kind, "ACL", frozenset()) == ("PutObjectAcl",)
    assert ROUTER.operations("PUT", kind, "%61cl", frozenset()) == ("PutObjectAcl",)
    assert ROUTER.operations("PUT", "bucket", "brandnew", frozenset()) == ()


def test_acl_operations_are_never_allowed() -> None:
    assert {"PutBucketAcl", "PutObjectAcl"} == NEVER
    assert all(OPERATIONS[n].kind is Kind.ACCESS for n in NEVER)


@pytest.mark.parametrize(
    ("name", "headers", "body", "loose"),
    [
        ("PutBucketPolicy", {}, b'{"Statement":{"Effect":"Allow","Principal":"*"}}', True),
        (
            "PutBucketPolicy",
            {},
            b'{"Statement":[{"Effect":"Allow","Principal":{"AWS":["*"]}}]}',
            True,
        ),
        (
            "PutBucketPolicy",
            {},
            b'{"Statement":[{"Effect":"Allow","Principal":"*","Condition":{"IpAddress":{}}}]}',
            True,
        ),
        ("PutBucketPolicy", {}, b'{"Statement":[{"Effect":"Deny","Principal":"*"}]}', False),
        ("PutBucketPolicy", {}, b"{not json", True),
        ("PutPublicAccessBlock", {}, b"<BlockPublicAcls>true</BlockPublicAcls>", True),
        (
            "PutPublicAccessBlock",
            {},
            b"<C><BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>true</IgnorePublicAcls>"
            b"<BlockPublicPolicy>TRUE</BlockPublicPolicy>"
            b"<RestrictPublicBuckets>true</RestrictPublicBuckets></C>",
            False,
        ),
        (
            "PutBucketOwnershipControls",
            {},
            b"<ObjectOwnership>ObjectWriter</ObjectOwnership>",
            True,
        ),
        (
            "PutBucketOwnershipControls",
            {},
            b"<ObjectOwnership>BucketOwnerEnforced</ObjectOwnership>",
            False,
        ),
        ("CreateBucket", {"x-amz-object-ownership": "BucketOwnerPreferred"}, b"", True),
        ("CreateBucket", {}, b"", False),
        ("RestoreObject", {}, b"<RestoreRequest><Days>1</Days></RestoreRequest>", False),
        ("RestoreObject", {}, b"<x:Grant xmlns:x='s3'/>", True),
        ("PutBucketLogging", {}, b"<TargetGrants/>", True),
        ("PutBucketEncryption", {}, b"<SSEAlgorithm>aws:kms</SSEAlgorithm>", False),
        ("PutBucketEncryption", {}, b"<SSEAlgorithm>none</SSEAlgorithm>", True),
        # What parsers disagree on is refused, not guessed at.
        (
            "PutPublicAccessBlock",
            {},
            b"<C><!--<BlockPublicAcls>true</BlockPublicAcls>--><BlockPublicAcls>false"
            b"</BlockPublicAcls></C>",
            True,
        ),
        (
            "PutBucketOwnershipControls",
            {},
            "<O><ObjectOwnership>BucketOwnerEnforced</ObjectOwnership></O>".encode("utf-16"),
            True,
        ),
        ("RestoreObject", {}, b"<R><![CDATA[x]]></R>", True),
        ("RestoreObject", {}, b"<R><OutputLocation><S3/></OutputLocation></R>", True),
        ("PutBucketVersioning", {}, b"<V><Status>Enabled</Status></V>", False),
        ("PutBucketVersioning", {}, b"<V><MfaDelete>Disabled</MfaDelete></V>", True),
        # Everyone, however it is spelled, needs a condition that narrows.
        *[
            ("PutBucketPolicy", {}, json.dumps(doc).encode(), True)
            for doc in (
                {"Statement": [{"Effect": "Allow", "Principal": ["*"]}]},
                {"Statement": [{"Effect": "Allow", "Principal": {"CanonicalUser": "*"}}]},
                {"Statement": [{"Effect": "Allow", "Principal": {"Service": "*"}}]},
                {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": "*",
                            "Condition": {"Bool": {"aws:SecureTransport": "true"}},
                        }
                    ]
                },
                {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": "*",
                            "Condition": {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}},
                        }
                    ]
                },
                {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": "*",
                            "Condition": {"StringLike": {"aws:SourceVpce": "*"}},
                        }
                    ]
                },
                {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": "*",
                            "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
                        }
                    ]
                },
            )
        ],
        (
            "PutBucketPolicy",
            {},
            json.dumps(
                {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": "*",
                            "Condition": {"IpAddress": {"aws:SourceIp": "10.1.0.0/16"}},
                        }
                    ]
                }
            ).encode(),
            False,
        ),
        ("DeleteBucketEncryption", {}, b"", True),
        ("GetObject", {}, b"", False),
    ],
)
def test_inspectors(name: str, headers: dict[str, str], body: bytes, loose: bool) -> None:
    assert (loosening(name, headers, body) is not None) is loose
