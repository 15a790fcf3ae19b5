"""Token refreshes counted by the production metric (``invoicesync_token_refreshes_total``),
so no token store keeps a counter for tests. One process's replicas share the metric: a
count is every refresh made since it started."""

from __future__ import annotations

from prometheus_client import REGISTRY


def _total(system: str) -> float:
    value = REGISTRY.get_sample_value("invoicesync_token_refreshes_total", {"system": system})
    return value or 0.0


class TokenRefreshes:
    """Refreshes of ``system``'s tokens since this object was made."""

    def __init__(self, system: str = "exact") -> None:
        self._system = system
        self._start = _total(system)

    @property
    def made(self) -> int:
        return int(_total(self._system) - self._start)
