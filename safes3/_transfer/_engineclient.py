"""The check every transfer entry point makes first: is this a guarded safes3 client?

The engine relies on the client's guards for encryption on every request it
sends, so it refuses a client whose guards are gone (a plain boto3 client,
or one whose handlers were removed), and turns off botocore's own chatter for
its calls.
"""

from __future__ import annotations

from typing import Any

from safes3._core._hooks import guard_policy
from safes3._core._rules import Policy
from safes3._exceptions import ConfigurationError
from safes3._transfer._retry import quiet_botocore

__all__ = ["engine_client"]


def engine_client(s3: Any, caller: str) -> Policy:
    """``s3``'s guard policy; :class:`ConfigurationError` naming ``caller`` if it has none."""
    policy = guard_policy(s3.meta.events)
    if policy is None:
        raise ConfigurationError(
            f"{caller} needs a client made by safes3.client(); this one carries no safes3 guards"
        )
    quiet_botocore(s3)
    return policy
