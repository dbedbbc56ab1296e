"""Where the command line's settings come from: flags, then environment, then AWS profiles.

SSE-C keys are read only from an environment variable or a file, never from
a command-line value, which any local user could read in the process list.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from pathlib import Path
from typing import Any

from safes3._config import Config
from safes3._core._encryption import SSEC, SSEKMS, SSES3, Encryption
from safes3._exceptions import ConfigurationError, EncryptionConfigError
from safes3._session import Session

__all__ = [
    "ENV",
    "READ_ONLY_ENCRYPTION",
    "encryption_setting",
    "flag_or_env",
    "load_ssec",
    "parse_encryption",
    "session_for",
]

ENV = {
    "endpoint_url": "SAFES3_ENDPOINT_URL",
    "ca_bundle": "SAFES3_CA_BUNDLE",
    "store": "SAFES3_STORE",
    "encryption": "SAFES3_ENCRYPTION",
    "allow_static_credentials": "SAFES3_ALLOW_STATIC_CREDENTIALS",
}
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Reads send no encryption parameters under a non-SSE-C policy, so commands
# that only read or delete are given this placeholder when none is configured.
READ_ONLY_ENCRYPTION = SSEKMS("alias/safes3-read-only")


def load_ssec(source: str) -> SSEC:
    """An SSE-C key from ``env:NAME``, ``file:PATH``, or a bare variable name or path.

    The variable or file holds the key as base64 text, or the file holds the
    32 raw bytes.
    """
    kind, _, rest = source.partition(":")
    if kind == "env" or (not rest and _ENV_NAME.match(source) and source in os.environ):
        name = rest if kind == "env" else source
        text = os.environ.get(name)
        if text is None:
            raise EncryptionConfigError(f"environment variable {name} (SSE-C key) is not set")
        return SSEC.from_base64(text.strip())
    path = Path(rest if kind == "file" else source)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise EncryptionConfigError(
            f"cannot read the SSE-C key file {str(path)!r}: {exc.strerror}; give env:NAME "
            "or file:PATH (a key is never taken from the command line itself)"
        ) from exc
    if len(raw) == 32:
        return SSEC(raw)
    try:
        return SSEC(base64.b64decode(raw.strip(), validate=True))
    except (binascii.Error, ValueError) as exc:
        raise EncryptionConfigError(
            f"the SSE-C key file {str(path)!r} holds neither 32 raw bytes nor base64 text"
        ) from exc


def parse_encryption(text: str) -> Encryption:
    """``kms:KEY-ID-OR-ARN``, ``sse-s3``, or ``sse-c:ENVVAR_OR_FILE``."""
    mode, _, arg = text.partition(":")
    mode = mode.lower()
    if mode in {"kms", "sse-kms"} and arg:
        return SSEKMS(arg)
    if mode == "sse-s3" and not arg:
        return SSES3()
    if mode == "sse-c" and arg:
        return load_ssec(arg)
    raise ConfigurationError(
        f"unknown encryption {text!r}; use kms:KEY-ARN, sse-s3 or sse-c:ENVVAR_OR_FILE"
    )


def flag_or_env(args: Any, name: str) -> Any:
    """The flag ``--name`` if given, else its SAFES3_* variable, else None."""
    value = getattr(args, name, None)
    return value if value is not None else os.environ.get(ENV[name]) or None


def encryption_setting(args: Any, *, required: bool) -> Encryption:
    text = flag_or_env(args, "encryption")
    if text is None:
        if required:
            raise ConfigurationError(
                "this command writes: choose an encryption with --encryption or "
                "SAFES3_ENCRYPTION (kms:KEY-ARN, sse-s3, sse-c:ENVVAR_OR_FILE)"
            )
        return READ_ONLY_ENCRYPTION
    return parse_encryption(text)


def session_for(args: Any, encryption: Encryption) -> Session:
    """A safes3 session from flags, SAFES3_* variables and the AWS profile chain."""
    allow = getattr(args, "allow_static_credentials", False) or os.environ.get(
        ENV["allow_static_credentials"], ""
    ).lower() in {"1", "true", "yes"}
    return Session(
        Config(
            encryption=encryption,
            endpoint_url=flag_or_env(args, "endpoint_url"),
            ca_bundle=flag_or_env(args, "ca_bundle"),
            store=flag_or_env(args, "store"),
            region=getattr(args, "region", None),
            profile=getattr(args, "profile", None) or os.environ.get("AWS_PROFILE") or None,
            allow_static_credentials=allow,
        )
    )
