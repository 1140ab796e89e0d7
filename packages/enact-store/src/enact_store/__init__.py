"""References and content-addressed stores for enact.

A store is a Merkle DAG: resources are committed under the sha256 digest of
their content and refer to each other through :class:`Ref` objects. Backends
keep the objects in memory, in files, in SQLite or in PostgreSQL; to write
one of your own, see :class:`StorageBackend` (the contract, with
:func:`encode_object` and :func:`decode_object` for backends that keep bytes)
and :mod:`enact_store.testing` (the conformance suite, ``enact-store[testing]``).
"""

from importlib.metadata import PackageNotFoundError, version

from enact_store._backend import FORMAT_VERSION, REFRESH_INTERVAL, StorageBackend, check_tag_name
from enact_store._codec import decode_object, encode_object
from enact_store._errors import (
    CorruptionError,
    GcRefused,
    NoActiveStoreError,
    NoStoreError,
    NotAStoreError,
    NotFound,
    ReadOnlyStoreError,
    RefError,
    StoreConfigError,
    StoreError,
    StoreFormatError,
    StoreIOError,
    UnsupportedOperation,
)
from enact_store._maintenance import (
    DEFAULT_GRACE_PERIOD,
    CopyReport,
    GcReport,
    Problem,
    VerifyReport,
    copy,
)
from enact_store._pprint import PPrinter, PPValue, pformat, pprint
from enact_store._ref import PackedResource, Ref
from enact_store._runs import RUN_STATES, RUN_TAG_PREFIX, CallTime, RunEntry, Runs, RunStep
from enact_store._store import Store, Tags, commit, get
from enact_store._url import open_store, redact_url
from enact_store.backends import FileBackend, InMemoryBackend, PostgresBackend, SqliteBackend

try:
    __version__ = version("enact-store")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "DEFAULT_GRACE_PERIOD",
    "FORMAT_VERSION",
    "REFRESH_INTERVAL",
    "RUN_STATES",
    "RUN_TAG_PREFIX",
    "CallTime",
    "CopyReport",
    "CorruptionError",
    "FileBackend",
    "GcRefused",
    "GcReport",
    "InMemoryBackend",
    "NoActiveStoreError",
    "NoStoreError",
    "NotAStoreError",
    "NotFound",
    "PPValue",
    "PPrinter",
    "PackedResource",
    "PostgresBackend",
    "Problem",
    "ReadOnlyStoreError",
    "Ref",
    "RefError",
    "RunEntry",
    "RunStep",
    "Runs",
    "SqliteBackend",
    "StorageBackend",
    "Store",
    "StoreConfigError",
    "StoreError",
    "StoreFormatError",
    "StoreIOError",
    "Tags",
    "UnsupportedOperation",
    "VerifyReport",
    "__version__",
    "check_tag_name",
    "commit",
    "copy",
    "decode_object",
    "encode_object",
    "get",
    "open_store",
    "pformat",
    "pprint",
    "redact_url",
]
