"""The active store, per thread and per asyncio task (contextvars)."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

from enact_store._errors import NoActiveStoreError

if TYPE_CHECKING:
    from enact_store._store import Store

# A tuple used as a stack: entering a store pushes it, leaving pops it, so
# nested `with` blocks restore the previous store.
ACTIVE: ContextVar[tuple[Store, ...]] = ContextVar("enact_active_stores", default=())


def current_store() -> Store:
    """Returns the active store or raises :class:`NoActiveStoreError`."""
    stack = ACTIVE.get()
    if not stack:
        raise NoActiveStoreError()
    return stack[-1]
