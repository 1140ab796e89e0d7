"""PostgresBackend: the shared store for many processes on many machines (psycopg 3)."""

from __future__ import annotations

from typing import Any

from enact_resource import ResourceDict
from enact_store._backend import StorageBackend
from enact_store._ref import PackedResource, Ref

__all__ = ["PostgresBackend"]


class PostgresBackend(StorageBackend):
    """Stores objects in PostgreSQL (to be implemented)."""

    def __init__(self, dsn: str) -> None:
        raise NotImplementedError

    def commit(self, packed_resource: PackedResource[Any]) -> None:
        raise NotImplementedError

    def has(self, ref: Ref[Any]) -> bool:
        raise NotImplementedError

    def get(self, ref: Ref[Any]) -> ResourceDict | None:
        raise NotImplementedError
