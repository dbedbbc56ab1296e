"""CA bundle validation: each way a bundle can be unusable gets its own message."""

from __future__ import annotations

from pathlib import Path

import certifi
import pytest

from safes3 import CABundleError
from safes3._tls import load_ca_bundle
from tests.certs import make_cert


def test_default_is_certifi() -> None:
    assert load_ca_bundle(None).path == certifi.where()


def test_valid_ca_path_and_pem_text(tmp_path: Path) -> None:
    ca = make_cert(tmp_path, "good-ca")
    assert load_ca_bundle(ca).path == str(ca)
    from_text = load_ca_bundle(ca.read_text())
    assert Path(from_text.path).read_text() == ca.read_text()


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CABundleError, match="does not exist"):
        load_ca_bundle(tmp_path / "nope.pem")


def test_non_pem_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("this is not a certificate\n")
    with pytest.raises(CABundleError, match="is not PEM"):
        load_ca_bundle(bad)


def test_garbled_pem(tmp_path: Path) -> None:
    bad = tmp_path / "garbled.pem"
    bad.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(CABundleError, match="does not parse"):
        load_ca_bundle(bad)


def test_expired_ca(tmp_path: Path) -> None:
    old = make_cert(tmp_path, "old-ca", expired=True)
    with pytest.raises(CABundleError, match="expired on"):
        load_ca_bundle(old)


def test_leaf_certificate_is_not_a_ca(tmp_path: Path) -> None:
    leaf = make_cert(tmp_path, "server", ca=False)
    with pytest.raises(CABundleError, match="not a CA certificate"):
        load_ca_bundle(leaf)
