"""Start and stop a throwaway Ceph RADOS Gateway that the integration tests run against.

The tests need a real S3 server that enforces SSE-C, SSE-KMS, STS and ACLs over
HTTPS with a private CA, so a mock will not do.  One monitor, one in-memory OSD
and one gateway on 127.0.0.1 give exactly that in a few seconds, with nothing
left on disk worth keeping: every start wipes its folder and makes new keys,
certificates and credentials.  The result is described in ``DIR/store.json``
(see ``tests/storeinfo.py``).

Usage::

    rgw_store.py start --dir DIR [--https-port N] [--http-port N] [--mon-port N]
                                 [--memstore-bytes N]
    rgw_store.py stop --dir DIR

Standard library only, so it runs before the project is importable.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime
import hashlib
import hmac
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import string
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Sequence
from pathlib import Path

ADMIN_UID = "safes3-admin"
OTHER_UID = "safes3-other"
ROLE_NAME = "safes3-test-role"
KMS_KEY_IDS = ("safes3-key-1", "safes3-key-2")
DATA_POOL = "default.rgw.buckets.data"
REGION = "us-east-1"
RGW_NAME = "client.rgw.a"
APT_PACKAGES = ("radosgw", "ceph-mon", "ceph-osd", "ceph-common", "openssl")
START_TIMEOUT = 120.0
STOP_GRACE = 3.0
DAEMON_BINARIES = frozenset({"ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "rados", "ceph"})


class StartError(Exception):
    """Start-up failed; the message says why and the caller stops what did start."""


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _run(*args: str, timeout: float = 60.0, stdin: str | None = None) -> str:
    """Run a setup command, turning any failure into a StartError with its output."""
    try:
        done = subprocess.run(
            list(args), input=stdin, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise StartError(f"timed out after {timeout:.0f}s: {' '.join(args)}") from exc
    if done.returncode != 0:
        raise StartError(
            f"failed ({done.returncode}): {' '.join(args)}\n{done.stdout}{done.stderr}".rstrip()
        )
    return done.stdout


def ensure_installed() -> None:
    """Install Ceph from Debian when absent: a fresh machine must need no manual step."""
    needed = ("radosgw", "radosgw-admin", "ceph-mon", "ceph-osd", "ceph", "rados", "openssl")
    if all(shutil.which(b) for b in needed):
        return
    print("rgw_store: installing Ceph from apt (about 20 s)...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *APT_PACKAGES],
        check=True,
        env=env,
    )


def _random_key(length: int, alphabet: str) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _port_free(port: int) -> bool:
    """Whether a daemon could listen on ``port``; like them, ignores TIME_WAIT leftovers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def make_certificates(tls: Path) -> tuple[Path, Path, Path]:
    """A fresh CA and a server certificate it signed, so no key is ever reused or committed.

    The extensions are spelled out because strict verifiers (Python 3.13's default
    X509_STRICT) refuse certificates without key usage and key identifiers.
    """
    tls.mkdir(parents=True)
    ca_key, ca_pem = tls / "ca.key", tls / "ca.pem"
    key, csr, pem, ext = tls / "server.key", tls / "server.csr", tls / "server.pem", tls / "ext"
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _run(
        "openssl",
        "req",
        "-x509",
        *ec,
        "-keyout",
        str(ca_key),
        "-out",
        str(ca_pem),
        "-days",
        "30",
        "-subj",
        "/CN=safes3 throwaway test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    )
    _run(
        "openssl",
        "req",
        "-new",
        *ec,
        "-keyout",
        str(key),
        "-out",
        str(csr),
        "-subj",
        "/CN=localhost",
    )
    ext.write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid,issuer\n"
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
    )
    _run(
        "openssl",
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca_pem),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-days",
        "30",
        "-out",
        str(pem),
        "-extfile",
        str(ext),
    )
    return ca_pem, pem, key


def ceph_conf(
    d: Path, fsid: str, mon_host: str, https: int, http: int, memstore: int, sts_key: str
) -> str:
    """The cluster configuration; each setting below is one a test or the start time needs."""
    kms_keys = " ".join(f"{k}={base64.b64encode(os.urandom(32)).decode()}" for k in KMS_KEY_IDS)
    tls = d / "tls"
    return f"""\
[global]
fsid = {fsid}
mon host = {mon_host}
public network = 127.0.0.0/8
public addr = 127.0.0.1
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
run dir = {d}/run
admin socket = {d}/run/$name.$pid.asok
log file = {d}/log/$name.log
crash dir = {d}/crash
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail warn = 5
mon data avail crit = 1

[mon]
mon data = {d}/mon/$cluster-$id
paxos propose interval = 0.1

[osd]
osd data = {d}/osd/$cluster-$id
osd objectstore = memstore
memstore device bytes = {memstore}

[client.admin]
keyring = {d}/admin.keyring

[{RGW_NAME}]
keyring = {d}/rgw.keyring
rgw data = {d}/rgw
rgw frontends = beast ssl_endpoint=127.0.0.1:{https} ssl_certificate={tls}/server.pem \
ssl_private_key={tls}/server.key endpoint=127.0.0.1:{http}
rgw crypt s3 kms backend = testing
rgw crypt s3 kms encryption keys = {kms_keys}
rgw s3 auth use sts = true
rgw sts key = {sts_key}
rgw gc obj min wait = 5
rgw gc processor period = 5
rgw gc processor max time = 5
"""


class Cluster:
    """The daemons of one start, so a failure anywhere can stop exactly what started."""

    def __init__(self, d: Path) -> None:
        self.d = d
        self.conf = str(d / "ceph.conf")
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def spawn(self, name: str, args: Sequence[str]) -> None:
        out = (self.d / "log" / f"{name}.out").open("wb")
        self.procs[name] = subprocess.Popen(
            list(args), stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
        )
        out.close()
        self.write_pids()

    def write_pids(self) -> None:
        pids = {n: p.pid for n, p in self.procs.items()}
        (self.d / "pids.json").write_text(json.dumps(pids, indent=2) + "\n")

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise StartError(f"{name} exited with status {proc.returncode}")

    def log_tail(self, name: str, lines: int = 30) -> str:
        logs = {"mon": "mon.a", "osd": "osd.0", "rgw": RGW_NAME}
        text = []
        for path in (self.d / "log" / f"{name}.out", self.d / "log" / f"{logs[name]}.log"):
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                text.append(f"--- {path} ---\n" + "\n".join(tail))
        return "\n".join(text)

    def cmd(self, tool: str, *args: str, timeout: float = 60.0, stdin: str | None = None) -> str:
        """Run a Ceph CLI tool against this cluster, noticing if a daemon died meanwhile."""
        self.check_alive()
        try:
            return _run(tool, "-c", self.conf, *args, timeout=timeout, stdin=stdin)
        except StartError:
            self.check_alive()
            raise


def _sign_v4(
    method: str,
    url: str,
    access: str,
    secret: str,
    service: str,
    body: bytes = b"",
    token: str | None = None,
) -> urllib.request.Request:
    """A SigV4-signed request, so readiness can be proven without boto3 installed."""
    parts = urllib.parse.urlsplit(url)
    now = datetime.datetime.now(datetime.timezone.utc)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    headers = {
        "host": parts.netloc,
        "x-amz-date": amz_date,
        "x-amz-content-sha256": hashlib.sha256(body).hexdigest(),
    }
    if body:
        headers["content-type"] = "application/x-www-form-urlencoded"
    if token:
        headers["x-amz-security-token"] = token
    signed = ";".join(sorted(headers))
    canonical = "\n".join(
        [
            method,
            parts.path or "/",
            parts.query,
            "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)),
            signed,
            headers["x-amz-content-sha256"],
        ]
    )
    scope = f"{day}/{REGION}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    k = ("AWS4" + secret).encode()
    for part in (day, REGION, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access}/{scope}, "
        f"SignedHeaders={signed}, Signature={signature}"
    )
    return urllib.request.Request(url, data=body or None, headers=headers, method=method)  # noqa: S310


def _fetch(req: urllib.request.Request, ctx: ssl.SSLContext) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=5) as resp:  # noqa: S310
            return int(resp.status), resp.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def _xml_text(body: str, tag: str) -> str:
    start = body.find(f"<{tag}>")
    end = body.find(f"</{tag}>", start)
    if start < 0 or end < 0:
        raise ValueError(f"<{tag}> missing from {body[:300]!r}")
    return body[start + len(tag) + 2 : end]


def _wait_assume_role(
    cluster: Cluster, endpoint: str, ca: Path, admin: dict[str, str], role: str
) -> None:
    """Poll until HTTPS answers through the private CA and AssumeRole credentials work on S3.

    Both must hold before the tests start, or their first failures would be
    start-up noise rather than findings.
    """
    ctx = ssl.create_default_context(cafile=str(ca))
    deadline = time.monotonic() + START_TIMEOUT
    last = "nothing tried yet"
    while time.monotonic() < deadline:
        cluster.check_alive()
        try:
            form = urllib.parse.urlencode(
                {
                    "Action": "AssumeRole",
                    "Version": "2011-06-15",
                    "RoleArn": role,
                    "RoleSessionName": "rgw-store-ready",
                    "DurationSeconds": "900",
                }
            ).encode()
            req = _sign_v4(
                "POST", endpoint + "/", admin["access_key"], admin["secret_key"], "sts", form
            )
            status, body = _fetch(req, ctx)
            if status == 200:
                req = _sign_v4(
                    "GET",
                    endpoint + "/",
                    _xml_text(body, "AccessKeyId"),
                    _xml_text(body, "SecretAccessKey"),
                    "s3",
                    token=_xml_text(body, "SessionToken"),
                )
                status, body = _fetch(req, ctx)
                if status == 200:
                    return
            last = f"HTTP {status}: {body[:300]}"
        except (OSError, ValueError) as exc:
            last = repr(exc)
        time.sleep(0.2)
    raise StartError(f"not ready after {START_TIMEOUT:.0f}s; last answer: {last}")


def _json_field(text: str, name: str) -> str:
    """A field of radosgw-admin's JSON output, whose key case varies between commands."""
    data = json.loads(text)
    for key, value in data.items():
        if key.lower() == name.lower():
            return str(value)
    raise StartError(f"no {name!r} in radosgw-admin output: {text[:300]}")


def _new_keys() -> dict[str, str]:
    return {
        "access_key": _random_key(20, string.ascii_uppercase + string.digits),
        "secret_key": _random_key(40, string.ascii_letters + string.digits),
    }


def _bootstrap_keyrings(d: Path) -> Path:
    """Keyrings for the monitor, the admin client and the gateway.

    The admin and gateway keys go into the monitor's initial keyring, so they are in
    the auth database from the first moment and need no round trip to the monitor.
    """
    mon, admin, rgw = d / "mon.keyring", d / "admin.keyring", d / "rgw.keyring"
    auth = "ceph-authtool"
    _run(auth, "--create-keyring", str(mon), "--gen-key", "-n", "mon.", "--cap", "mon", "allow *")
    _run(
        auth,
        "--create-keyring",
        str(admin),
        "--gen-key",
        "-n",
        "client.admin",
        "--cap",
        "mon",
        "allow *",
        "--cap",
        "osd",
        "allow *",
        "--cap",
        "mgr",
        "allow *",
    )
    _run(
        auth,
        "--create-keyring",
        str(rgw),
        "--gen-key",
        "-n",
        RGW_NAME,
        "--cap",
        "mon",
        "allow rw",
        "--cap",
        "osd",
        "allow rwx",
    )
    for keyring in (admin, rgw):
        _run(auth, str(mon), "--import-keyring", str(keyring))
    return mon


def _start_daemons(cluster: Cluster, fsid: str, mon_host: str) -> None:
    """Monitor, then OSD, then gateway, each started as soon as what it needs exists.

    Nothing waits for the OSD to come up: the gateway retries its pool creation
    until it does, and answering HTTPS is the readiness signal for both.
    """
    d, conf = cluster.d, cluster.conf
    mon_keyring = _bootstrap_keyrings(d)
    monmap = d / "monmap"
    _run("monmaptool", "--create", "--fsid", fsid, "--addv", "a", mon_host, str(monmap))
    _run(
        "ceph-mon",
        "-c",
        conf,
        "--mkfs",
        "-i",
        "a",
        "--monmap",
        str(monmap),
        "--keyring",
        str(mon_keyring),
    )
    cluster.spawn("mon", ["ceph-mon", "-c", conf, "-f", "-i", "a"])

    osd_uuid = str(uuid.uuid4())
    osd_secret = _run("ceph-authtool", "--gen-print-key").strip()
    osd_id = cluster.cmd(
        "ceph", "osd", "new", osd_uuid, "-i", "-", stdin=json.dumps({"cephx_secret": osd_secret})
    ).strip()
    osd_dir = d / "osd" / f"ceph-{osd_id}"
    osd_dir.mkdir(parents=True, exist_ok=True)
    (osd_dir / "keyring").write_text(f"[osd.{osd_id}]\n\tkey = {osd_secret}\n")
    _run("ceph-osd", "-c", conf, "-i", osd_id, "--mkfs", "--osd-uuid", osd_uuid)
    cluster.spawn("osd", ["ceph-osd", "-c", conf, "-f", "-i", osd_id])
    cluster.spawn("rgw", ["radosgw", "-c", conf, "-f", "-n", RGW_NAME])


def _wait_https(cluster: Cluster, endpoint: str, ca: Path) -> None:
    """Poll until the gateway answers over HTTPS; it does so only once its pools exist."""
    ctx = ssl.create_default_context(cafile=str(ca))
    deadline = time.monotonic() + START_TIMEOUT
    last = "nothing tried yet"
    while time.monotonic() < deadline:
        cluster.check_alive()
        try:
            status, body = _fetch(urllib.request.Request(endpoint + "/"), ctx)  # noqa: S310
            if status < 500:
                return
            last = f"HTTP {status}: {body[:300]}"
        except OSError as exc:
            last = repr(exc)
        time.sleep(0.1)
    raise StartError(f"HTTPS not answering after {START_TIMEOUT:.0f}s; last: {last}")


def _create_identities(cluster: Cluster, admin: dict[str, str], other: dict[str, str]) -> str:
    """The two users and the role; returns the role's ARN as the gateway spells it."""
    rgw_admin = "radosgw-admin"
    for uid, keys, caps in (
        (ADMIN_UID, admin, ["--caps", "roles=*;users=*;buckets=*;metadata=*;usage=*"]),
        (OTHER_UID, other, []),
    ):
        cluster.cmd(
            rgw_admin,
            "user",
            "create",
            "--uid",
            uid,
            "--display-name",
            uid,
            "--access-key",
            keys["access_key"],
            "--secret",
            keys["secret_key"],
            *caps,
        )
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": [f"arn:aws:iam:::user/{ADMIN_UID}"]},
                "Action": ["sts:AssumeRole"],
            }
        ],
    }
    out = cluster.cmd(
        rgw_admin,
        "role",
        "create",
        "--role-name",
        ROLE_NAME,
        "--path",
        "/",
        "--assume-role-policy-doc",
        json.dumps(trust, separators=(",", ":")),
    )
    allow_all = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:*"], "Resource": ["arn:aws:s3:::*"]}],
    }
    cluster.cmd(
        rgw_admin,
        "role-policy",
        "put",
        "--role-name",
        ROLE_NAME,
        "--policy-name",
        "allow-s3",
        "--policy-doc",
        json.dumps(allow_all, separators=(",", ":")),
    )
    return _json_field(out, "arn")


def start(d: Path, https: int, http: int, mon_port: int, memstore: int) -> dict[str, object]:
    """Bring the store up in ``d`` (wiped first) and return what ``store.json`` records."""
    stop(d, quiet=True)
    if d.exists():
        ours = any((d / name).exists() for name in ("ceph.conf", "pids.json", "store.json"))
        if any(d.iterdir()) and not ours:
            raise StartError(f"{d} is not empty and holds no store: refusing to wipe it")
        shutil.rmtree(d)
    for port in (https, http, mon_port, mon_port + 1):
        if not _port_free(port):
            raise StartError(f"port {port} on 127.0.0.1 is already in use")
    for sub in ("log", "run", "crash", "rgw", "mon", "osd"):
        (d / sub).mkdir(parents=True)
    ca, _, _ = make_certificates(d / "tls")
    fsid = str(uuid.uuid4())
    mon_host = f"[v2:127.0.0.1:{mon_port},v1:127.0.0.1:{mon_port + 1}]"
    sts_key = _random_key(16, string.ascii_letters + string.digits)
    conf = d / "ceph.conf"
    conf.write_text(ceph_conf(d, fsid, mon_host, https, http, memstore, sts_key))
    cluster = Cluster(d)
    endpoint = f"https://127.0.0.1:{https}"
    admin, other = _new_keys(), _new_keys()
    try:
        _start_daemons(cluster, fsid, mon_host)
        _wait_https(cluster, endpoint, ca)
        role_arn = _create_identities(cluster, admin, other)
        _wait_assume_role(cluster, endpoint, ca, admin, role_arn)
    except BaseException as exc:
        if isinstance(exc, StartError):
            dead = [n for n, proc in cluster.procs.items() if proc.poll() is not None]
            for name in dead or cluster.procs:
                print(cluster.log_tail(name), file=sys.stderr)
        stop(d, quiet=True)
        raise
    tools = {t: shutil.which(t) or t for t in ("radosgw-admin", "rados", "ceph")}
    return {
        "name": "rgw",
        "endpoint_url": endpoint,
        "http_endpoint_url": f"http://127.0.0.1:{http}",
        "ca_bundle": str(ca.resolve()),
        "region": REGION,
        "admin": admin,
        "other": other,
        "role_arn": role_arn,
        "role_name": ROLE_NAME,
        "sts_endpoint_url": endpoint,
        "kms_key_ids": list(KMS_KEY_IDS),
        "extra": {
            "profile": "ceph",
            "conf": str(conf.resolve()),
            "admin_cmd": [tools["radosgw-admin"], "-c", str(conf.resolve())],
            "rados_cmd": [tools["rados"], "-c", str(conf.resolve())],
            "ceph_cmd": [tools["ceph"], "-c", str(conf.resolve())],
            "data_pool": DATA_POOL,
            "admin_uid": ADMIN_UID,
            "other_uid": OTHER_UID,
            "log_dir": str((d / "log").resolve()),
            "pids": {n: p.pid for n, p in cluster.procs.items()},
        },
    }


def _our_binary(pid: int, conf: str) -> str | None:
    """Which Ceph program ``pid`` runs for this store; None for others, reused PIDs, zombies."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    if stat.rsplit(")", 1)[-1].split()[0] == "Z":
        return None
    args = [a.decode(errors="replace") for a in argv if a]
    if conf not in args:
        return None
    return next((b for b in map(os.path.basename, args[:2]) if b in DAEMON_BINARIES), None)


def _ancestors() -> set[int]:
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


def _terminate(pids: set[int], conf: str) -> None:
    """SIGTERM, then SIGKILL what is still running after the grace period; wait for exit."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    while time.monotonic() < deadline and any(_our_binary(p, conf) for p in pids):
        time.sleep(0.02)
    for pid in pids:
        if _our_binary(pid, conf):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    while any(_our_binary(p, conf) for p in pids):
        time.sleep(0.02)


def stop(d: Path, *, quiet: bool = False) -> int:
    """Stop every process of the store in ``d``: recorded PIDs and strays naming its config.

    Clients and the gateway go first, then the OSD, then the monitor: each exits in
    a fraction of a second that way, whereas a gateway whose cluster vanished under
    it hangs until killed.  Returns how many processes were stopped.
    """
    conf = str((d / "ceph.conf").resolve())
    candidates: set[int] = set()
    with contextlib.suppress(OSError, ValueError):
        candidates.update(int(p) for p in json.loads((d / "pids.json").read_text()).values())
    with contextlib.suppress(OSError):
        candidates.update(int(e.name) for e in os.scandir("/proc") if e.name.isdigit())
    found = {p: _our_binary(p, conf) for p in candidates - _ancestors()}
    stages = [
        {p for p, b in found.items() if b and b not in ("ceph-osd", "ceph-mon")},
        {p for p, b in found.items() if b == "ceph-osd"},
        {p for p, b in found.items() if b == "ceph-mon"},
    ]
    for pids in stages:
        _terminate(pids, conf)
    stopped = sum(len(pids) for pids in stages)
    if not quiet:
        print(f"rgw_store: stopped {stopped} process(es) of {d}")
    return stopped


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    p_start = sub.add_parser("start", help="wipe DIR and start a fresh store there")
    p_start.add_argument("--dir", type=Path, required=True)
    p_start.add_argument("--https-port", type=int, default=_env_int("SAFES3_RGW_HTTPS_PORT", 18443))
    p_start.add_argument("--http-port", type=int, default=_env_int("SAFES3_RGW_HTTP_PORT", 18080))
    p_start.add_argument(
        "--mon-port",
        type=int,
        default=_env_int("SAFES3_RGW_MON_PORT", 16789),
        help="monitor msgr2 port; msgr1 uses the next one",
    )
    p_start.add_argument(
        "--memstore-bytes",
        type=int,
        default=_env_int("SAFES3_RGW_MEMSTORE_BYTES", 8 << 30),
        help="capacity the in-memory OSD reports; RAM is used only as data is written",
    )
    p_stop = sub.add_parser("stop", help="stop the store in DIR (no error if none runs)")
    p_stop.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args(argv)
    d: Path = args.dir.resolve()
    if args.command == "stop":
        stop(d)
        return 0
    began = time.monotonic()
    ensure_installed()
    try:
        info = start(d, args.https_port, args.http_port, args.mon_port, args.memstore_bytes)
    except StartError as exc:
        print(f"rgw_store: start failed: {exc}", file=sys.stderr)
        return 1
    (d / "store.json").write_text(json.dumps(info, indent=2) + "\n")
    print(
        f"rgw_store: Ceph RGW up at {info['endpoint_url']} (http {info['http_endpoint_url']}), "
        f"{d / 'store.json'}, {time.monotonic() - began:.1f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
