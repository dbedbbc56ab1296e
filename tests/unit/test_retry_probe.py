"""The engine silences botocore's retries by botocore's behaviour, not its version number."""

from __future__ import annotations

from typing import Any

from botocore.endpoint import Endpoint
from botocore.hooks import first_non_none_response

from safes3._transfer._retry import FALSE_MEANS_NO_RETRY, false_means_no_retry


class _RetriesOnAnyAnswer(Endpoint):
    """botocore's ``_needs_retry`` as releases before the change have it: any answer retries."""

    def _needs_retry(
        self, attempts: int, operation_model: Any, request_dict: Any, **_: Any
    ) -> bool:
        service = operation_model.service_model.service_id.hyphenize()
        responses = self._event_emitter.emit(  # type: ignore[attr-defined]
            f"needs-retry.{service}.{operation_model.name}", attempts=attempts
        )
        return first_non_none_response(responses) is not None


class _Changed(Endpoint):
    def _needs_retry(self) -> bool:
        return False


def test_the_installed_botocore_is_asked_and_stops_on_false() -> None:
    assert false_means_no_retry() is True
    assert FALSE_MEANS_NO_RETRY is True


def test_a_botocore_that_retries_on_any_answer_is_detected() -> None:
    assert false_means_no_retry(_RetriesOnAnyAnswer) is False


def test_a_changed_private_signature_counts_as_not_stopping() -> None:
    assert false_means_no_retry(_Changed) is False
