"""open_store: a Store from a URL."""

from __future__ import annotations

from enact_store._store import Store

__all__ = ["open_store"]


def open_store(url: str) -> Store:
    """Returns a Store for ``memory://``, ``file:…`` or ``sqlite:///…`` URLs."""
    raise NotImplementedError
