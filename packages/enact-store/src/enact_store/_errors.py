"""Errors raised by enact-store.

The tree (``EnactError`` is the root shared by every enact package)::

    EnactError
    └── StoreError
        ├── NoActiveStoreError (RuntimeError)  store API used outside ``with Store(...)``
        ├── NotFound (LookupError)             the store has no object with that digest
        ├── RefError (ValueError)              a malformed digest or an invalid reference
        ├── CorruptionError                    stored data does not hash to its digest
        │                                      (or is not a regular file in a file store)
        ├── StoreIOError (OSError)             the operating system refused an operation on
        │                                      the store (permission, disk full, ...)
        ├── UnsupportedOperation (NotImplementedError)
        │                                      the backend lacks an optional capability
        └── StoreConfigError (ValueError)      a bad store URL or backend option
"""

from enact_resource import EnactError


class StoreError(EnactError):
    """Root of the errors raised by stores and backends."""


class NoActiveStoreError(StoreError, RuntimeError):
    """The store API was used while no store is active."""

    def __init__(self) -> None:
        super().__init__(
            "No active store: enter one with `with enact.Store(...):` "
            "(or `with enact.open_store(url):`) before committing or dereferencing refs."
        )


class NotFound(StoreError, LookupError):
    """The store has no object with the requested digest."""


class RefError(StoreError, ValueError):
    """A reference is malformed (for instance its digest is not 64 hex digits)."""


class CorruptionError(StoreError):
    """Stored data does not match its digest; it is never returned."""

    def __init__(self, digest: str, location: str, detail: str) -> None:
        super().__init__(f"Object {digest} is corrupt ({location}): {detail}")
        self.digest = digest
        self.location = location
        self.detail = detail


class StoreIOError(StoreError, OSError):
    """The operating system refused an operation on a store's files or database.

    Permission denied, no space left on the device, a path component that is
    not a directory, a read-only file system... The message is one line naming
    the path and the system's reason; ``errno`` and ``filename`` are set as on
    an ``OSError`` when they are known.
    """

    def __init__(self, message: str, *, errno: int | None = None, path: str | None = None) -> None:
        super().__init__(message)
        self.errno = errno
        self.filename = path

    def __str__(self) -> str:
        return str(self.args[0])


class UnsupportedOperation(StoreError, NotImplementedError):
    """The backend does not provide an optional capability (listing, tags, ...)."""


class StoreConfigError(StoreError, ValueError):
    """A store URL or backend option is invalid."""
