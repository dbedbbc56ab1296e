"""One measured transfer in its own process: build the client, time the transfer.

Run by :mod:`benchmarks.run` as ``python -m benchmarks.run --child SPEC``;
prints one JSON line with seconds, client CPU-seconds and peak RSS.  Client
construction is not timed; the first request's connection set-up is.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config as BotocoreConfig

import safes3
from benchmarks._raw import raw_get, raw_put
from safes3._transfer import _rangeread as safes3_rangeread

__all__ = ["Spec", "run_child"]

MiB = 1 << 20
VARIANTS = ("raw-tls", "boto3-default", "boto3-tuned", "safes3-client", "safes3")
SSEC_KEY = bytes(range(32))


@dataclass(frozen=True, kw_only=True)
class Spec:
    """Everything one child needs (no secrets: store keys are read from the store JSON)."""

    variant: str
    workload: str
    sse: str
    endpoint_url: str
    ca_bundle: str
    region: str
    profile: str
    kms_key_id: str
    bucket: str
    key: str
    size: int
    source: str
    workdir: str
    store_json: str | None = None
    part_mib: int | None = None
    concurrency: int | None = None
    read_kib: int | None = None

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str) -> Spec:
        return cls(**json.loads(text))


def _credentials(spec: Spec) -> tuple[str, str]:
    if spec.store_json is None:
        return "AKIDSAFES3BENCH", "sink-accepts-any-signature"
    admin = json.loads(Path(spec.store_json).read_text())["admin"]
    return admin["access_key"], admin["secret_key"]


def _encryption(spec: Spec) -> safes3.Encryption:
    if spec.sse == "kms":
        return safes3.SSEKMS(spec.kms_key_id)
    if spec.sse == "ssec":
        return safes3.SSEC(SSEC_KEY)
    return safes3.SSES3()


def _extra_args(spec: Spec) -> dict[str, Any]:
    """The same encryption, passed by hand to plain boto3."""
    if spec.sse == "kms":
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": spec.kms_key_id}
    if spec.sse == "ssec":
        return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": SSEC_KEY}
    return {"ServerSideEncryption": "AES256"}


def _boto3_client(spec: Spec, *, tuned: bool) -> Any:
    access, secret = _credentials(spec)
    s3_conf: dict[str, Any] = {"addressing_style": "path"}
    extra: dict[str, Any] = {}
    if tuned:
        s3_conf["payload_signing_enabled"] = False
        extra["request_checksum_calculation"] = "when_required"
    client: Any = boto3.session.Session().client(
        "s3",  # type: ignore[call-overload]
        endpoint_url=spec.endpoint_url,
        region_name=spec.region,
        verify=spec.ca_bundle,
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        config=BotocoreConfig(s3=s3_conf, **extra),  # type: ignore[arg-type]
    )
    return client


def _safes3_client(spec: Spec) -> Any:
    access, secret = _credentials(spec)
    return safes3.client(
        encryption=_encryption(spec),
        endpoint_url=spec.endpoint_url,
        ca_bundle=spec.ca_bundle,
        store=spec.profile,
        region=spec.region,
        credentials=safes3.StaticCredentials(access_key_id=access, secret_access_key=secret),
        allow_static_credentials=True,
    )


_TUNED = TransferConfig(
    multipart_threshold=64 * MiB, multipart_chunksize=64 * MiB, max_concurrency=4
)


def _pipe(path: str) -> tuple[subprocess.Popen[bytes], BinaryIO]:
    """A non-seekable source whose read(n) returns what the pipe holds (<= 64 KiB)."""
    proc = subprocess.Popen(["cat", path], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    return proc, proc.stdout.raw  # type: ignore[attr-defined]


def _transfer(spec: Spec) -> Callable[[], None]:
    """The timed action of ``spec`` (clients already built)."""
    v, w = spec.variant, spec.workload
    dest = str(Path(spec.workdir) / f"dest-{os.getpid()}")
    if v == "raw-tls":
        if w == "download":

            def get() -> None:
                with open(dest, "wb", buffering=0) as out:
                    raw_get(spec.endpoint_url, spec.ca_bundle, spec.bucket, spec.key, out)

            return get
        if w == "pipe":
            proc, reader = _pipe(spec.source)

            def put_pipe() -> None:
                raw_put(
                    spec.endpoint_url,
                    spec.ca_bundle,
                    spec.bucket,
                    spec.key,
                    spec.size,
                    reader.readinto,  # type: ignore[attr-defined]
                )
                proc.wait()

            return put_pipe
        source = open(spec.source, "rb", buffering=0)  # noqa: SIM115

        def put_file() -> None:
            raw_put(
                spec.endpoint_url,
                spec.ca_bundle,
                spec.bucket,
                spec.key,
                spec.size,
                source.readinto,
            )

        return put_file
    if v.startswith("boto3"):
        s3 = _boto3_client(spec, tuned=v == "boto3-tuned")
        tc = _TUNED if v == "boto3-tuned" else TransferConfig()
        extra = _extra_args(spec)
        if w == "download":
            down = {k: v for k, v in extra.items() if k.startswith("SSECustomer")}
            return lambda: s3.download_file(
                spec.bucket, spec.key, dest, ExtraArgs=down or None, Config=tc
            )
        if w == "pipe":
            proc, reader = _pipe(spec.source)

            def boto_pipe() -> None:
                s3.upload_fileobj(reader, spec.bucket, spec.key, ExtraArgs=extra, Config=tc)
                proc.wait()

            return boto_pipe
        return lambda: s3.upload_file(
            spec.source, spec.bucket, spec.key, ExtraArgs=extra, Config=tc
        )
    s3 = _safes3_client(spec)
    if v == "safes3-client":
        if w == "download":
            return lambda: s3.download_file(spec.bucket, spec.key, dest)
        if w == "pipe":
            proc, reader = _pipe(spec.source)

            def client_pipe() -> None:
                s3.upload_fileobj(reader, spec.bucket, spec.key)
                proc.wait()

            return client_pipe
        return lambda: s3.upload_file(spec.source, spec.bucket, spec.key)
    settings = _settings(spec)
    if spec.read_kib is not None:
        safes3_rangeread.CHUNK = spec.read_kib * 1024
    if w == "download":
        return lambda: _discard(safes3.download(s3, spec.bucket, spec.key, dest, settings=settings))
    if w == "pipe":
        proc, reader = _pipe(spec.source)

        def engine_pipe() -> None:
            safes3.upload(s3, reader, spec.bucket, spec.key, settings=settings)
            proc.wait()

        return engine_pipe
    return lambda: _discard(
        safes3.upload(s3, spec.source, spec.bucket, spec.key, settings=settings)
    )


def _settings(spec: Spec) -> safes3.TransferSettings:
    """safes3's defaults, or the part size / concurrency the command line asked for."""
    given: dict[str, int] = {}
    if spec.part_mib is not None:
        given["part_size"] = spec.part_mib * MiB
    if spec.concurrency is not None:
        given["max_concurrency"] = spec.concurrency
    return safes3.TransferSettings(**given)  # type: ignore[arg-type]


def _discard(_: object) -> None:
    return


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_child(spec: Spec) -> dict[str, Any]:
    """Build, time and measure one transfer; the JSON-able result."""
    action = _transfer(spec)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu0, t0 = _cpu(), time.perf_counter()
    error = None
    try:
        action()
    except Exception as exc:  # noqa: BLE001 - a failed variant is reported, not fatal
        error = f"{type(exc).__name__}: {str(exc)[:600]}"
    seconds = time.perf_counter() - t0
    cpu = _cpu() - cpu0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    Path(spec.workdir, f"dest-{os.getpid()}").unlink(missing_ok=True)
    return {
        "variant": spec.variant,
        "workload": spec.workload,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "mb_per_s": spec.size / seconds / 1e6,
        "cpu_s_per_gib": cpu / (spec.size / (1 << 30)),
        "peak_rss_mib": rss / 1024,
        "rss_before_mib": rss_before / 1024,
        "error": error,
    }
