"""SqliteBackend: the embedded persistent backend (stdlib sqlite3, WAL)."""

from __future__ import annotations

import os
from typing import Any

from enact_resource import ResourceDict
from enact_store._backend import StorageBackend
from enact_store._ref import PackedResource, Ref

__all__ = ["SqliteBackend"]


class SqliteBackend(StorageBackend):
    """Stores objects in one SQLite database file (to be implemented)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        raise NotImplementedError

    def commit(self, packed_resource: PackedResource[Any]) -> None:
        raise NotImplementedError

    def has(self, ref: Ref[Any]) -> bool:
        raise NotImplementedError

    def get(self, ref: Ref[Any]) -> ResourceDict | None:
        raise NotImplementedError
