"""The CA bundle: validated once, then handed to botocore as an explicit path.

An explicit ``verify=<path>`` is the only setting botocore prefers over
``AWS_CA_BUNDLE`` / ``REQUESTS_CA_BUNDLE``, so safes3 always passes one, to
S3 and to STS alike.  PEM text is written to a private temporary file for the
life of the process (certificates are public; nothing secret is written).
"""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import hashlib
import os
import ssl
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import certifi
from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from safes3._exceptions import CABundleError, ConfigurationError, InsecureTransportError

__all__ = ["CABundle", "check_https_url", "check_tls_floor", "load_ca_bundle"]

_PEM_MARKER = "-----BEGIN CERTIFICATE-----"


@dataclass(frozen=True)
class CABundle:
    """A checked bundle: the path botocore gets."""

    path: str


def load_ca_bundle(value: str | os.PathLike[str] | None) -> CABundle:
    """Validate ``value`` (a path, PEM text, or None for certifi's bundle)."""
    if value is None:
        return _check_file(certifi.where(), skip_expired=True)
    if isinstance(value, str) and _PEM_MARKER in value:
        return _check_file(_materialise(value), skip_expired=False)
    path = os.fspath(value)
    if not os.path.isfile(path):
        raise CABundleError(
            f"CA bundle {path!r} does not exist or is not a file; "
            "pass the path of a PEM file holding your CA certificate(s), or the PEM text"
        )
    return _check_file(os.path.abspath(path), skip_expired=False)


@functools.lru_cache(maxsize=32)
def _check_cached(path: str, mtime_ns: int, size: int, skip_expired: bool) -> CABundle:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CABundleError(f"CA bundle {path!r} cannot be read: {exc.strerror}") from exc
    if _PEM_MARKER.encode() not in data:
        raise CABundleError(
            f"CA bundle {path!r} is not PEM: it holds no '-----BEGIN CERTIFICATE-----' block"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise CABundleError(f"CA bundle {path!r} does not parse as PEM certificates") from exc
    now = dt.datetime.now(dt.timezone.utc)
    usable = []
    for cert in certs:
        subject = cert.subject.rfc4514_string()
        if not _is_ca(cert):
            raise CABundleError(
                f"CA bundle {path!r} holds {subject!r}, which is not a CA certificate "
                "(basicConstraints CA:TRUE missing): pass the CA that signed the server "
                "certificate, not the server certificate itself"
            )
        if cert.not_valid_after_utc <= now:
            if skip_expired:
                continue
            raise CABundleError(
                f"CA certificate {subject!r} in {path!r} expired on "
                f"{cert.not_valid_after_utc:%Y-%m-%d}: renew it and pass the new bundle"
            )
        if cert.not_valid_before_utc > now:
            raise CABundleError(
                f"CA certificate {subject!r} in {path!r} is not valid before "
                f"{cert.not_valid_before_utc:%Y-%m-%d}: check the machine's clock"
            )
        usable.append(cert)
    if not usable:
        raise CABundleError(f"CA bundle {path!r} holds no usable CA certificate")
    return CABundle(path=path)


def _check_file(path: str, *, skip_expired: bool) -> CABundle:
    try:
        st = os.stat(path)
    except OSError as exc:
        raise CABundleError(f"CA bundle {path!r} cannot be read: {exc.strerror}") from exc
    return _check_cached(path, st.st_mtime_ns, st.st_size, skip_expired)


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        ext = cert.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS)
    except x509.ExtensionNotFound:
        return cert.issuer == cert.subject
    return bool(ext.value.ca)  # type: ignore[attr-defined]


_tempdir: str | None = None


def _materialise(pem: str) -> str:
    global _tempdir
    if _tempdir is None:
        _tempdir = tempfile.mkdtemp(prefix="safes3-ca-")
        atexit.register(_cleanup)
    name = hashlib.sha256(pem.encode()).hexdigest()[:24] + ".pem"
    path = os.path.join(_tempdir, name)
    if not os.path.exists(path):
        with open(path, "w", encoding="ascii") as fh:
            fh.write(pem)
    return path


def _cleanup() -> None:
    if _tempdir is None:
        return
    for name in os.listdir(_tempdir):
        os.unlink(os.path.join(_tempdir, name))
    os.rmdir(_tempdir)


def check_tls_floor() -> None:
    """Refuse to run where new client TLS contexts would accept less than TLS 1.2.

    botocore builds its context with ``SSLContext(PROTOCOL_TLS_CLIENT)``,
    whose floor is TLS 1.2 on Python >= 3.10 unless the system's OpenSSL
    configuration lowers it; safes3 checks instead of assuming.
    """
    floor = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).minimum_version
    if floor == ssl.TLSVersion.MINIMUM_SUPPORTED or floor < ssl.TLSVersion.TLSv1_2:
        raise CABundleError(
            f"this Python/OpenSSL would accept {floor.name} connections; safes3 requires "
            "TLS 1.2 or newer: fix the system OpenSSL configuration (MinProtocol = TLSv1.2)"
        )


def check_https_url(url: str, *, name: str, consequence: str) -> None:
    """Refuse an endpoint URL that is not ``https://host``, saying why it matters."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "https":
        raise InsecureTransportError(
            f"{name} {url!r} is not HTTPS; {consequence}. "
            "Use the store's https:// endpoint (and ca_bundle= for a private CA)"
        )
    if not parts.hostname:
        raise ConfigurationError(f"{name} {url!r} has no host name")
    if parts.username or parts.password:
        raise ConfigurationError(f"{name} must not contain credentials")
