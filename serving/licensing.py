"""Serving-time governance: text leaves the API only while its manual's license allows
serving, and every response that carries document text leaves an audit row.

Every request checks the catalog's governance version (`sql.access`), so revoking a
license or letting it expire takes effect at once, without re-indexing. Audit rows are
queued for the ledger writer, which stores them within one write of the response.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from serving.state import AppState


def audit_text_reads(
    state: AppState, client_id: str, action: str, manual_keys: Iterable[str]
) -> None:
    """One audit row per manual whose passages a response carried, naming the caller."""
    served = Counter(manual_keys)
    if served:
        state.ledger.record_text_reads(client_id, action, served)
