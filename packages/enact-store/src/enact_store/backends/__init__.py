"""The storage backends that ship with enact-store.

Each backend is one module here and implements the contract of
:class:`enact_store.StorageBackend` (see its docstring: what a backend must and
may provide, and what each method promises about atomicity and durability).
:func:`enact_store.open_store` maps URL schemes to them.
"""

from enact_store.backends._file import FileBackend
from enact_store.backends._memory import InMemoryBackend
from enact_store.backends._postgres import PostgresBackend
from enact_store.backends._sqlite import SqliteBackend

__all__ = ["FileBackend", "InMemoryBackend", "PostgresBackend", "SqliteBackend"]
