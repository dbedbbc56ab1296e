"""Merging generated statements into a bucket's existing policy (pure data, no store)."""

from __future__ import annotations

import json

import pytest

from safes3 import ConfigurationError
from safes3._cli import _policygen as pg

OURS = pg.bucket_policy(pg.deny_acl_changes("b"))
GRANT = {
    "Sid": "ReadForAnalytics",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::111122223333:role/analytics"},
    "Action": "s3:GetObject",
    "Resource": "arn:aws:s3:::b/*",
}


def test_no_existing_policy_gives_ours() -> None:
    assert pg.merged(None, OURS) == (OURS, 0)


def test_existing_statements_are_kept_in_front() -> None:
    existing = json.dumps({"Version": "2012-10-17", "Id": "owner", "Statement": [GRANT]})
    result, kept = pg.merged(existing, OURS)
    assert kept == 1
    assert result["Id"] == "owner"
    assert result["Statement"] == [GRANT, *OURS["Statement"]]


def test_a_single_statement_object_counts_as_a_list() -> None:
    result, kept = pg.merged(json.dumps({"Statement": GRANT}), OURS)
    assert (kept, result["Version"]) == (1, "2012-10-17")
    assert result["Statement"][0] == GRANT


def test_an_earlier_run_of_the_same_statement_is_replaced_not_duplicated() -> None:
    stale = dict(OURS["Statement"][0], Action="s3:PutBucketAcl")
    existing = json.dumps({"Version": "2012-10-17", "Statement": [stale, GRANT]})
    result, kept = pg.merged(existing, OURS)
    assert kept == 1
    assert result["Statement"] == [GRANT, *OURS["Statement"]]


@pytest.mark.parametrize(
    ("text", "why"),
    [("{not json", "not valid JSON"), (json.dumps({"Statement": "x"}), "no list of statements")],
)
def test_an_unreadable_existing_policy_is_refused_with_the_way_out(text: str, why: str) -> None:
    with pytest.raises(ConfigurationError, match=why) as caught:
        pg.merged(text, OURS)
    assert "--replace" in str(caught.value)
