"""Preview: what a push would send and what it would meet, without writing anything.

The API asks each connector (``POST /integrations/{id}/preview`` on its control port, as
it asks for ``verify``) with the document snapshot it would publish. The connector answers
with the payload exactly as its mapping builds it, the customer it would use, and every
problem its read-only lookups find against the system's live settings. Nothing is stored:
no customer link, no ledger entry, no remote write.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from typing_extensions import TypeVar

from invoicesync_shared.connectors.errors import PermanentError, RateLimited
from invoicesync_shared.connectors.protocol import PushContext
from invoicesync_shared.events.documents import DocumentSnapshot
from invoicesync_shared.integration_settings import SettingsModel

# linked: a stored link of an earlier push; matched: found in the system by a search;
# would_create: the push would create it; system_matches: the system matches it itself
# inside the document call (Yuki), so we cannot tell in advance.
CustomerAction = Literal["linked", "matched", "would_create", "system_matches"]

# A preview asks once more after a rate limit whose wait is short: a busy organisation's
# budget (Lexware's 2 requests a second, shared with its pushes) is often spent for under a
# second, and "preview again in a while" would send the user away for nothing. A longer
# wait would outlast the API's preview timeout (5 s by default): that one is reported.
PREVIEW_ATTEMPTS = 2
PREVIEW_LONGEST_WAIT = 2.0


def asks_again(error: BaseException) -> bool:
    """A rate limit the preview waits out in place (its Retry-After, or a short backoff)."""
    return isinstance(error, RateLimited) and (
        error.retry_after is None or error.retry_after <= PREVIEW_LONGEST_WAIT
    )


@dataclass(frozen=True)
class PreviewProblem:
    """Something the push would fail on; ``message`` says what to do about it."""

    code: str
    field: str | None
    message: str

    @classmethod
    def of(cls, error: PermanentError, field: str | None = None) -> PreviewProblem:
        return cls(error.code, field, error.message)


@dataclass(frozen=True)
class PreviewCustomer:
    """The customer a push would use: the remote id/code it matched, or what it would
    create (``payload``, as it would be sent)."""

    action: CustomerAction
    remote_id: str | None = None
    code: str | None = None
    payload: dict[str, Any] | None = None


@dataclass(frozen=True)
class PreviewAnswer:
    """``payload`` is the document as it would be sent (JSON, or XML text for Yuki); None
    where a problem stops the mapping altogether."""

    payload: dict[str, Any] | str | None
    customer: PreviewCustomer | None
    problems: list[PreviewProblem] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "payload": self.payload,
            "customer": asdict(self.customer) if self.customer else None,
            "problems": [asdict(p) for p in self.problems],
        }


# The settings model of the connector's system (it only takes them in).
S_contra = TypeVar("S_contra", bound=SettingsModel, default=SettingsModel, contravariant=True)


class Previewer(Protocol[S_contra]):
    """A connector that can preview: its real mapping and lookups, read-only calls only."""

    async def preview(
        self, ctx: PushContext[S_contra], document: DocumentSnapshot
    ) -> PreviewAnswer: ...
