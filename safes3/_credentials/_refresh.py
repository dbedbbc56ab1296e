"""Role credentials that botocore refreshes, and that can be renewed on demand.

botocore's :class:`RefreshableCredentials` renews before expiry; an
``ExpiredToken`` answer in the middle of a transfer also needs a renewal
*now*, once, however many threads saw it: ``generation`` tells them apart.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import NoReturn

from botocore.credentials import RefreshableCredentials

from safes3._credentials._role import AssumeRole

__all__ = ["METHOD", "Fetch", "RoleCredentials"]

METHOD = "safes3-assume-role"

Fetch = Callable[[], dict[str, str]]


class RoleCredentials(RefreshableCredentials):
    """botocore's refreshable credentials, plus a forced renewal after ``ExpiredToken``.

    ``generation`` counts AssumeRole calls; :meth:`renew` skips the call when
    another thread already renewed since the failed request was signed.
    """

    def __init__(self, role: AssumeRole, fetch: Fetch) -> None:
        self._fetch = fetch
        self._state = threading.Lock()
        self._forced = False
        self.generation = 0
        first = fetch()
        margin = role.refresh_margin_seconds
        super().__init__(
            access_key=first["access_key"],
            secret_key=first["secret_key"],
            token=first["token"],
            expiry_time=dt.datetime.fromisoformat(first["expiry_time"]),
            refresh_using=self._refresh_from_sts,
            method=METHOD,
            time_fetcher=role.clock,
            advisory_timeout=margin,
            mandatory_timeout=max(1, margin // 2),
        )

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError("role credentials hold a secret and cannot be pickled or copied")

    def refresh_needed(self, refresh_in: int | None = None) -> bool:
        return self._forced or bool(super().refresh_needed(refresh_in))

    def renew(self, seen_generation: int) -> None:
        """AssumeRole again now, unless that happened after ``seen_generation``."""
        with self._state:
            if self.generation != seen_generation:
                return
            self._forced = True
        try:
            self.get_frozen_credentials()
        finally:
            self._forced = False

    def _refresh_from_sts(self) -> dict[str, str]:
        data = self._fetch()
        with self._state:
            self.generation += 1
            self._forced = False
        return data
