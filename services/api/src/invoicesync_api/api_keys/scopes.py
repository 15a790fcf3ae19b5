"""What a key may do. Each route names the one scope it needs (``deps.NeedsRead`` …)."""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    READ = "read"  # every GET
    WRITE = "write"  # clients, documents, sync runs, retries, replays of dead letters
    ADMIN = "admin"  # integrations' connect and lifecycle, webhook endpoints, API keys


ALL_SCOPES: tuple[Scope, ...] = (Scope.READ, Scope.WRITE, Scope.ADMIN)
