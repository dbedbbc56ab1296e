"""``safes3._core._rules`` offline: what each operation's rule is, the parameters the policy
puts on it, the refusals, and the proof of encryption read from a response.

Every operation of the installed botocore's S3 model is run under every mode
of :mod:`tests.support.modes`; expectations come from the model's input
shapes and S3's documented names, not from the rule code.  Nothing here
sends a request.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import pytest

import safes3
from safes3._core._profiles import get_profile
from safes3._core._rules import Policy, rules_for
from tests.support.modes import KEY, MODES, OTHER_KEY, Mode, md5_of
from tests.support.operations import (
    ACL_OPERATIONS,
    COPY_SOURCE_OPERATIONS,
    CREATING,
    FINISHING,
    SSEC_OPERATIONS,
    WRITES,
)
from tests.support.params import MODEL, input_members, params_for

RULES = rules_for(MODEL)
OPERATIONS = sorted(MODEL.operation_names)
ACL_PARAMS = sorted(
    (name, member)
    for name in OPERATIONS
    for member in input_members(name)
    if member == "ACL" or member.startswith("Grant")
)
_MISSING = object()


def policy(mode: Mode, store: str = "generic") -> Policy:
    return Policy(encryption=mode.encryption, profile=get_profile(store))


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in after.items() if before.get(k, _MISSING) != v}


def test_the_model_takes_keys_and_encryption_where_the_rules_expect() -> None:
    """A botocore upgrade that moves these fails here first: the sets are S3's documented ones."""
    takes = {n: input_members(n) for n in OPERATIONS}
    assert {n for n, m in takes.items() if "SSECustomerKey" in m} == SSEC_OPERATIONS
    assert {n for n, m in takes.items() if "CopySourceSSECustomerKey" in m} == (
        COPY_SOURCE_OPERATIONS
    )
    assert {n for n, m in takes.items() if "ServerSideEncryption" in m and "Key" in m} == CREATING
    assert {n for n, m in takes.items() if "AccessControlPolicy" in m} == ACL_OPERATIONS


@pytest.mark.parametrize("name", OPERATIONS)
def test_each_rule_reads_its_operation_shape(name: str) -> None:
    rule = RULES[name]
    members = input_members(name)
    assert rule.name == name
    assert rule.customer_key is (name in SSEC_OPERATIONS)
    assert rule.source_key is (name in COPY_SOURCE_OPERATIONS)
    assert rule.creates_object is (name in CREATING)
    assert rule.refused is (name in ACL_OPERATIONS)
    assert rule.acl_params == tuple(m for m in members if m == "ACL" or m.startswith("Grant"))
    if rule.body_checksum:
        assert MODEL.operation_model(name).has_streaming_input


@pytest.mark.parametrize("mode", MODES, ids=str)
@pytest.mark.parametrize("name", OPERATIONS)
def test_apply_params_puts_exactly_the_policy_encryption(name: str, mode: Mode) -> None:
    params = params_for(name)
    before = dict(params)
    if name in ACL_OPERATIONS:
        with pytest.raises(safes3.ACLRefusedError, match=name):
            policy(mode).apply_params(RULES[name], params)
        assert params == before
        return
    policy(mode).apply_params(RULES[name], params)
    expected: dict[str, Any] = {}
    if mode.ssec:
        if name in SSEC_OPERATIONS:
            expected.update(mode.customer_params)
        if name in COPY_SOURCE_OPERATIONS:
            expected.update(mode.source_params)
    elif name in CREATING:
        expected.update(mode.object_params)
    assert changes(before, params) == expected
    assert before.keys() <= params.keys()


@pytest.mark.parametrize("mode", MODES, ids=str)
@pytest.mark.parametrize(("name", "member"), ACL_PARAMS)
def test_acl_and_grant_params_are_refused_before_anything_changes(
    name: str, member: str, mode: Mode
) -> None:
    params = {**params_for(name), member: "private" if member == "ACL" else "id=someone"}
    before = dict(params)
    with pytest.raises(safes3.ACLRefusedError, match=name):
        policy(mode).apply_params(RULES[name], params)
    assert params == before


def _contradictions(mode: Mode) -> list[dict[str, Any]]:
    """Parameters that contradict ``mode`` and that apply_params itself must refuse."""
    if mode.ssec:
        return [
            {"ServerSideEncryption": "AES256"},
            {"ServerSideEncryption": "aws:kms"},
            {"SSEKMSKeyId": "key-1"},
            {"SSEKMSEncryptionContext": "e30="},
            {"SSECustomerKey": OTHER_KEY},
            {"SSECustomerAlgorithm": "AES512"},
        ]
    found: list[dict[str, Any]] = [{"SSECustomerKey": KEY}, {"SSECustomerKey": OTHER_KEY}]
    for param, value in mode.object_params.items():
        other: object = "something-else"
        if param == "ServerSideEncryption":
            other = "aws:kms" if value == "AES256" else "AES256"
        elif isinstance(value, bool):
            other = not value
        found.append({param: other})
    return found


CONFLICTS = [
    pytest.param(mode, name, extra, id=f"{mode}-{name}-{'-'.join(extra)}")
    for mode in MODES
    for name in sorted(CREATING)
    for extra in _contradictions(mode)
]


@pytest.mark.parametrize(("mode", "name", "extra"), CONFLICTS)
def test_contradicting_encryption_is_refused_by_apply_params(
    mode: Mode, name: str, extra: dict[str, Any]
) -> None:
    params = {**params_for(name), **extra}
    with pytest.raises(safes3.EncryptionConflictError, match=name):
        policy(mode).apply_params(RULES[name], params)


@pytest.mark.parametrize("mode", [m for m in MODES if not m.ssec], ids=str)
@pytest.mark.parametrize("name", sorted(SSEC_OPERATIONS - WRITES - {"SelectObjectContent"}))
def test_a_read_of_an_sse_c_object_gets_its_key_normalised(name: str, mode: Mode) -> None:
    params = {**params_for(name), "SSECustomerKey": OTHER_KEY}
    policy(mode).apply_params(RULES[name], params)
    assert params["SSECustomerKeyMD5"] == md5_of(OTHER_KEY)
    assert params["SSECustomerAlgorithm"] == "AES256"
    assert isinstance(params["SSECustomerKey"], str)


@pytest.mark.parametrize("mode", MODES, ids=str)
def test_a_copy_source_key_the_caller_gives_is_kept(mode: Mode) -> None:
    """Re-keying copies from an object under another key: the source key is the caller's."""
    params = {**params_for("CopyObject"), "CopySourceSSECustomerKey": OTHER_KEY}
    policy(mode).apply_params(RULES["CopyObject"], params)
    assert params["CopySourceSSECustomerKeyMD5"] == md5_of(OTHER_KEY)
    assert params["CopySourceSSECustomerAlgorithm"] == "AES256"


def test_the_policy_key_given_again_is_accepted_in_either_form() -> None:
    ssec = next(m for m in MODES if m.ssec)
    for given in (KEY, ssec.customer_params["SSECustomerKey"]):
        params = {**params_for("PutObject"), "SSECustomerKey": given}
        policy(ssec).apply_params(RULES["PutObject"], params)
        assert changes(params_for("PutObject"), params) == ssec.customer_params


class _Stream(io.RawIOBase):
    def readable(self) -> bool:
        return True


@pytest.mark.parametrize(("profile", "trailer"), [("ceph", False), ("seaweedfs", True)])
def test_a_non_seekable_body_needs_a_trailing_checksum(profile: str, trailer: bool) -> None:
    params = {**params_for("PutObject"), "Body": _Stream()}
    rule = RULES["PutObject"]
    if not trailer:
        with pytest.raises(safes3.EncryptionPolicyError, match="non-seekable"):
            policy(MODES[0], profile).apply_params(rule, params)
        return
    policy(MODES[0], profile).apply_params(rule, params)
    assert params["ChecksumAlgorithm"] == "CRC32"


# ---- proof ------------------------------------------------------------------


class Head:
    """The HEAD fallback: counts its calls and answers with fixed fields."""

    def __init__(self, answer: Mapping[str, Any]) -> None:
        self.answer = answer
        self.calls = 0

    def __call__(self) -> Mapping[str, Any]:
        self.calls += 1
        return self.answer


PROOF_CASES = [
    pytest.param(mode, name, id=f"{mode}-{name}") for mode in MODES for name in sorted(WRITES)
]


@pytest.mark.parametrize(("mode", "name"), PROOF_CASES)
def test_an_echo_that_proves_needs_no_head(mode: Mode, name: str) -> None:
    head = Head({})
    assert policy(mode).proof_problem(RULES[name], mode.proves, head) is None
    assert head.calls == 0


@pytest.mark.parametrize(("mode", "name"), PROOF_CASES)
def test_an_echo_that_contradicts_is_a_problem_without_head(mode: Mode, name: str) -> None:
    for parsed in mode.contradictions:
        head = Head(mode.proves)
        assert policy(mode).proof_problem(RULES[name], parsed, head) is not None, parsed
        assert head.calls == 0


@pytest.mark.parametrize(("mode", "name"), PROOF_CASES)
def test_another_modes_echo_fails_only_a_finishing_call(mode: Mode, name: str) -> None:
    """Intermediate steps read only the mode's own fields; the completion proves the object."""
    for parsed in mode.foreign:
        head = Head(mode.proves)
        problem = policy(mode).proof_problem(RULES[name], parsed, head)
        assert (problem is not None) is (name in FINISHING), parsed
        assert head.calls == 0


@pytest.mark.parametrize(("mode", "name"), PROOF_CASES)
def test_no_echo_asks_head_only_when_the_call_finishes_an_object(mode: Mode, name: str) -> None:
    proving, silent = Head(mode.proves), Head({})
    assert policy(mode).proof_problem(RULES[name], {}, proving) is None
    problem = policy(mode).proof_problem(RULES[name], {}, silent)
    if name in FINISHING:
        assert (proving.calls, silent.calls) == (1, 1)
        assert problem is not None
    else:
        assert (proving.calls, silent.calls) == (0, 0)
        assert problem is None


@pytest.mark.parametrize("mode", MODES, ids=str)
@pytest.mark.parametrize("name", sorted(FINISHING))
def test_a_head_that_contradicts_is_a_problem(mode: Mode, name: str) -> None:
    for answer in (*mode.contradictions, *mode.foreign):
        head = Head(answer)
        assert policy(mode).proof_problem(RULES[name], {}, head) is not None, answer
        assert head.calls == 1


@pytest.mark.parametrize("name", sorted(WRITES))
def test_a_kms_echo_without_a_key_id_proves_only_an_intermediate_step(name: str) -> None:
    head = Head(MODES[0].proves)
    problem = policy(MODES[0]).proof_problem(RULES[name], {"ServerSideEncryption": "aws:kms"}, head)
    assert (problem is None) is (name not in FINISHING)
    assert head.calls == 0


def test_proof_accepts_a_key_arn_and_a_doubled_key_md5() -> None:
    """AWS may report the key as an ARN; SeaweedFS echoes the key MD5 twice ("X, X")."""
    kms, ssec = MODES[0], next(m for m in MODES if m.ssec)
    arn = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "arn:aws:kms:eu-1:1:key/key-1"}
    assert policy(kms).proof_problem(RULES["PutObject"], arn, Head({})) is None
    doubled = {"SSECustomerKeyMD5": f"{md5_of(KEY)}, {md5_of(KEY)}"}
    assert policy(ssec).proof_problem(RULES["PutObject"], doubled, Head({})) is None
