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
        ├── GcRefused                          gc deleted nothing: it met objects or
        │                                      entries it cannot read (``.problems``)
        ├── UnsupportedOperation (NotImplementedError)
        │                                      the backend lacks an optional capability
        ├── ReadOnlyStoreError (PermissionError)
        │                                      a write to a store opened read-only
        └── StoreConfigError (ValueError)      a bad store URL or backend option
            ├── NoStoreError (FileNotFoundError)
            │                                  nothing at the location, and not asked to create
            ├── NotAStoreError                 the location holds something else
            └── StoreFormatError               the store's format is newer than this
                                               release reads (or needs migrating)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from enact_resource import EnactError

if TYPE_CHECKING:
    from enact_store._maintenance import GcReport, Problem


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


class GcRefused(StoreError):
    """gc deleted nothing, because it met objects or entries it could not read.

    An object gc cannot read or verify may refer to anything, and a malformed
    tag may have named a root, so gc cannot tell what is garbage. Raised
    before anything is deleted (also by a dry run).

    Attributes:
        problems: what gc could not read, and why (:class:`Problem` entries).
        report: what gc found before it stopped (``deleted`` is empty).
    """

    def __init__(self, problems: list[Problem], report: GcReport) -> None:
        self.problems = problems
        self.report = report
        shown = "; ".join(problem.describe() for problem in problems[:3])
        more = f"; and {len(problems) - 3} more (see .problems)" if len(problems) > 3 else ""
        count = f"{len(problems)} problem{'' if len(problems) == 1 else 's'}"
        super().__init__(
            f"gc deleted nothing: it met {count} that could hide what is still in use "
            f"(repair them first, see verify): {shown}{more}"
        )


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


class ReadOnlyStoreError(StoreError, PermissionError):
    """A write (commit, tag, delete) to a store opened read-only."""


class NoStoreError(StoreConfigError, FileNotFoundError):
    """The location holds no store, and the store was opened without ``create``.

    Attributes:
        where: the location (a path, or a PostgreSQL DSN without password).
        detail: what is missing there.
    """

    def __init__(self, where: str, detail: str) -> None:
        super().__init__(f"No store at {where} ({detail})")
        self.where = where
        self.detail = detail

    def __str__(self) -> str:  # FileNotFoundError would format its own.
        return f"No store at {self.where} ({self.detail})"

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.where, self.detail))


class NotAStoreError(StoreConfigError):
    """The location holds something that is not an enact store; it is left untouched."""


class StoreFormatError(StoreConfigError):
    """The store was written in a storage format this release cannot use.

    Attributes:
        found: the store's format version.
        supported: the newest format version this release reads and writes.
    """

    def __init__(self, message: str, found: int, supported: int) -> None:
        super().__init__(message)
        self.found = found
        self.supported = supported
