"""fsspec's error contract at safes3's boundary, without a store.

The fake client below only raises: it stands for what botocore raises when
the store answers an error (``ClientError``) or cannot be reached
(``EndpointConnectionError``), which is all these tests depend on.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from safes3._exceptions import TransferError
from safes3._filesystem._listing import Listing


class _Raising:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def get_paginator(self, _: str) -> _Raising:
        return self

    def __getattr__(self, name: str) -> Any:
        def call(**_: Any) -> Any:
            raise self.exc

        return call


class _FS(Listing):
    cachable = False

    def __init__(self, exc: Exception) -> None:
        super().__init__()
        self.raising = _Raising(exc)

    def _lister(self) -> Any:
        return self.raising


def _answer(status: int, code: str) -> ClientError:
    response: Any = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "ListObjectsV2")


@pytest.mark.parametrize("path", ["bucket", "bucket/key"])
def test_missing_is_file_not_found(path: str) -> None:
    with pytest.raises(FileNotFoundError):
        _FS(_answer(404, "NoSuchBucket")).info(path)


def test_refused_is_permission_error() -> None:
    with pytest.raises(PermissionError):
        _FS(_answer(403, "AccessDenied")).info("bucket/key")


@pytest.mark.parametrize("path", ["bucket", "bucket/key"])
def test_unreachable_store_is_a_transfer_error_naming_the_path(path: str) -> None:
    cut = EndpointConnectionError(endpoint_url="https://store.example")
    with pytest.raises(TransferError, match=f"{path} failed: EndpointConnectionError") as failed:
        _FS(cut).info(path)
    assert failed.value.__cause__ is cut


def test_listing_an_unreachable_store_is_a_transfer_error() -> None:
    cut = EndpointConnectionError(endpoint_url="https://store.example")
    with pytest.raises(TransferError):
        _FS(cut).ls("bucket/prefix")
