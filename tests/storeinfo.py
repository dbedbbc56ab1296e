"""What a running test store tells the tests about itself.

Each store script (``scripts/rgw_store.py``, ``scripts/seaweed_store.py``)
writes a ``store.json`` when it has started; the test command lists those
files, colon-separated, in ``SAFES3_TEST_STORES``.  Nothing here starts a
server: the tests only read what the scripts wrote.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Keys:
    access_key: str
    secret_key: str = field(repr=False)


@dataclass(frozen=True, kw_only=True)
class StoreInfo:
    """A live test store: endpoints, CA, identities, role and KMS keys."""

    name: str
    path: str
    endpoint_url: str
    http_endpoint_url: str
    ca_bundle: str
    region: str
    admin: Keys
    other: Keys
    role_arn: str
    role_name: str
    sts_endpoint_url: str
    kms_key_ids: tuple[str, ...]
    extra: dict[str, Any]

    @classmethod
    def load(cls, path: str | Path) -> StoreInfo:
        raw = json.loads(Path(path).read_text())
        return cls(
            name=raw["name"],
            path=str(path),
            endpoint_url=raw["endpoint_url"],
            http_endpoint_url=raw["http_endpoint_url"],
            ca_bundle=raw["ca_bundle"],
            region=raw.get("region", "us-east-1"),
            admin=Keys(**raw["admin"]),
            other=Keys(**raw["other"]),
            role_arn=raw["role_arn"],
            role_name=raw["role_name"],
            sts_endpoint_url=raw.get("sts_endpoint_url", raw["endpoint_url"]),
            kms_key_ids=tuple(raw["kms_key_ids"]),
            extra=raw.get("extra", {}),
        )


def configured_stores() -> list[StoreInfo]:
    """The stores named in ``SAFES3_TEST_STORES`` (empty when unset)."""
    value = os.environ.get("SAFES3_TEST_STORES", "")
    return [StoreInfo.load(p) for p in value.split(os.pathsep) if p]
