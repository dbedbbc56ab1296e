"""Valid parameters for any operation of botocore's S3 model, built from its input shape.

Only required members are filled (so no optional ACL or encryption member
sneaks in); ``Bucket`` and ``Key`` get fixed names, so the request's path is
predictable.  Values are the simplest the shape accepts: an enum's first
value, ``1``, ``True``, ``b"x"``, nested structures down to three levels.
"""

from __future__ import annotations

from typing import Any

import botocore.session
from botocore import xform_name
from botocore.model import OperationModel, ServiceModel, Shape

__all__ = ["BUCKET", "KEY", "MODEL", "input_members", "method_name", "params_for", "value"]

MODEL: ServiceModel = botocore.session.get_session().get_service_model("s3")
BUCKET = "bkt"
KEY = "some/key"


def value(shape: Shape, depth: int = 0) -> Any:
    """The simplest valid value of ``shape`` (required members only; a union's first)."""
    kind = shape.type_name
    if kind == "structure":
        members = shape.members  # type: ignore[attr-defined]
        names = list(shape.required_members)
        if not names and getattr(shape, "is_tagged_union", False):
            names = list(members)[:1]
        return {n: value(members[n], depth + 1) for n in names}
    if kind == "list":
        return [value(shape.member, depth + 1)] if depth < 3 else []  # type: ignore[attr-defined]
    if kind == "map":
        return {}
    if kind in ("integer", "long"):
        return 1
    if kind == "boolean":
        return True
    if kind == "timestamp":
        return 0
    if kind == "blob":
        return b"x"
    enum = shape.enum  # type: ignore[attr-defined]
    return enum[0] if enum else "v1".ljust(int(shape.metadata.get("min", 0)), "x")


def operation(name: str) -> OperationModel:
    return MODEL.operation_model(name)


def input_members(name: str) -> dict[str, Shape]:
    """The members of ``name``'s input shape (empty if it takes no input)."""
    shape = operation(name).input_shape
    return dict(shape.members) if shape is not None else {}


def params_for(name: str) -> dict[str, Any]:
    """Required parameters of ``name``, with the fixed bucket and key."""
    shape = operation(name).input_shape
    params: dict[str, Any] = value(shape) if shape is not None else {}
    if "Bucket" in params:
        params["Bucket"] = BUCKET
    if "Key" in params:
        params["Key"] = KEY
    if "CopySource" in params:
        params["CopySource"] = f"{BUCKET}/source-key"
    return params


def method_name(name: str) -> str:
    """The client method of operation ``name`` (``PutObject`` -> ``put_object``)."""
    return xform_name(name)
