"""Inspectors: what a request that can change access or encryption would loosen.

Each is a pure function of the final request's lower-cased headers and
body bytes, returning a sentence (the request loosens something) or None.
Bodies are read the way a store's parser would: XML with a real parser,
refusing what parsers disagree on (comments, processing instructions,
DTDs and entities, CDATA, encodings other than UTF-8); policies as JSON,
where any principal containing ``*`` is everyone and only conditions that
really narrow who can call count.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping

__all__ = [
    "Inspector",
    "always",
    "bucket_encryption",
    "bucket_ownership",
    "grants",
    "ownership_controls",
    "public_access_block",
    "public_policy",
    "restore",
    "versioning",
]

Inspector = Callable[[Mapping[str, str], bytes], "str | None"]

_DECLARATION = re.compile(rb'^<\?xml version=["\']1\.0["\'](?: encoding=["\']utf-8["\'])?\?>', re.I)
_GRANTS = frozenset({"Grant", "Grantee", "AccessControlList", "TargetGrants", "CannedACL"})
_BLOCK_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
_ENCRYPTING = frozenset({"AES256", "aws:kms", "aws:kms:dsse"})
_NARROWING = frozenset(
    {
        "aws:sourceip",
        "aws:sourcevpce",
        "aws:sourcevpc",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:principalaccount",
        "aws:principalarn",
        "aws:sourceaccount",
        "aws:sourcearn",
        "aws:sourceorgid",
        "aws:userid",
        "aws:username",
    }
)


class _Unreadable(Exception):
    """A body the inspector will not guess about."""


def _elements(body: bytes) -> list[tuple[str, str]]:
    """(local name, text) of every element, or _Unreadable."""
    rest = body.removeprefix(b"\xef\xbb\xbf").lstrip()
    declared = _DECLARATION.match(rest)
    if declared:
        rest = rest[declared.end() :]
    if b"<!" in rest or b"<?" in rest:
        raise _Unreadable("it holds a comment, DTD, CDATA or processing instruction")
    try:
        root = ET.fromstring(rest.decode("utf-8"))  # noqa: S314 (no DTD: refused above)
    except (UnicodeDecodeError, ET.ParseError) as exc:
        raise _Unreadable(f"it is not well-formed UTF-8 XML ({type(exc).__name__})") from None
    return [(e.tag.rsplit("}", 1)[-1], (e.text or "").strip()) for e in root.iter()]


def _xml_inspector(check: Callable[[list[tuple[str, str]]], str | None]) -> Inspector:
    def inspect(_headers: Mapping[str, str], body: bytes) -> str | None:
        if not body.strip():
            return check([])
        try:
            return check(_elements(body))
        except _Unreadable as exc:
            return f"its XML body cannot be checked: {exc}"

    return inspect


def _grant_problem(found: list[tuple[str, str]]) -> str | None:
    names = sorted({name for name, _ in found} & _GRANTS)
    return f"its body carries <{names[0]}>" if names else None


grants = _xml_inspector(_grant_problem)


@_xml_inspector
def restore(found: list[tuple[str, str]]) -> str | None:
    if any(name == "OutputLocation" for name, _ in found):
        return "it writes its results as new objects, outside the policy's encryption"
    return _grant_problem(found)


@_xml_inspector
def ownership_controls(found: list[tuple[str, str]]) -> str | None:
    values = {text for name, text in found if name == "ObjectOwnership"}
    loose = sorted(values - {"BucketOwnerEnforced"})
    if loose or not values:
        return f"ObjectOwnership {', '.join(loose) or '(none)'} turns ACLs back on"
    return None


@_xml_inspector
def public_access_block(found: list[tuple[str, str]]) -> str | None:
    off = []
    for flag in _BLOCK_FLAGS:
        values = [text for name, text in found if name == flag]
        if [v.lower() for v in values] != ["true"]:
            off.append(flag)
    return f"it leaves {', '.join(off)} off" if off else None


@_xml_inspector
def bucket_encryption(found: list[tuple[str, str]]) -> str | None:
    algorithms = {text for name, text in found if name == "SSEAlgorithm"}
    if not algorithms or not algorithms <= _ENCRYPTING:
        named = ", ".join(sorted(algorithms)) or "none"
        return f"its default encryption algorithm ({named}) is not one that encrypts"
    return None


@_xml_inspector
def versioning(found: list[tuple[str, str]]) -> str | None:
    if any(name == "MfaDelete" and text != "Enabled" for name, text in found):
        return "it turns MFA delete off"
    return None


def bucket_ownership(headers: Mapping[str, str], _body: bytes) -> str | None:
    value = headers.get("x-amz-object-ownership", "BucketOwnerEnforced")
    if value != "BucketOwnerEnforced":
        return f"x-amz-object-ownership: {value} turns ACLs on for the bucket"
    return None


def public_policy(_headers: Mapping[str, str], body: bytes) -> str | None:
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return "its policy document cannot be read as JSON, so it cannot be checked"
    statements = document.get("Statement", []) if isinstance(document, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        return "its policy document has no list of statements, so it cannot be checked"
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        if "NotPrincipal" in statement:
            return "it allows everyone outside a NotPrincipal list"
        if _is_everyone(statement.get("Principal")) and not _narrows(statement.get("Condition")):
            return (
                "it allows everyone (a '*' principal) without a condition that narrows who "
                "can call (a source address, VPC, organisation or account)"
            )
    return None


def _is_everyone(principal: object) -> bool:
    if isinstance(principal, str):
        return "*" in principal
    if isinstance(principal, list):
        return any(_is_everyone(p) for p in principal)
    if isinstance(principal, dict):
        return any(_is_everyone(v) for v in principal.values())
    return principal is not None


def _narrows(condition: object) -> bool:
    """Whether a Condition block limits the caller by a key that really narrows."""
    if not isinstance(condition, dict):
        return False
    for operator, block in condition.items():
        op = str(operator).lower()
        if "not" in op or op.endswith("ifexists") or not isinstance(block, dict):
            continue
        for key, values in block.items():
            listed = values if isinstance(values, list) else [values]
            if (
                str(key).lower() in _NARROWING
                and listed
                and all(
                    isinstance(v, str) and v and "*" not in v and not v.endswith("/0")
                    for v in listed
                )
            ):
                return True
    return False


def always(what: str) -> Inspector:
    """An inspector for operations that always loosen."""

    def inspect(_headers: Mapping[str, str], _body: bytes) -> str | None:
        return what

    return inspect
