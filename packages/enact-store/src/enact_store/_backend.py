"""The storage backend contract: StorageBackend, and the tag names backends accept."""

from __future__ import annotations

import abc
import re
from collections.abc import Iterable, Iterator
from time import time as wall_time
from typing import TYPE_CHECKING, Any

from enact_resource import ResourceDict
from enact_store._errors import UnsupportedOperation
from enact_store._ref import PackedResource, Ref

if TYPE_CHECKING:
    from enact_store._runs import CallTime, RunEntry

__all__ = ["FORMAT_VERSION", "REFRESH_INTERVAL", "StorageBackend", "check_tag_name"]

#: The storage format version that this release writes (see docs/format.md,
#: "Format versions"). Persistent backends record the version a store was
#: written in; a store of a newer version is refused, an older one is read as
#: it is and upgraded only by ``migrate()`` (``enact migrate``). Version 0 is
#: a store written before versions were recorded (enact-store 0.1): the same
#: layout as version 1, without the stamp.
FORMAT_VERSION = 1


# Like git branch names: path segments of letters, digits, '.', '_' and '-',
# separated by '/', none starting with '.' or '-' and no '..'.
_TAG_SEGMENT = r"[A-Za-z0-9_][A-Za-z0-9._-]*"
_TAG_NAME = re.compile(rf"{_TAG_SEGMENT}(?:/{_TAG_SEGMENT})*")
_MAX_TAG_LENGTH = 200


def check_tag_name(name: object) -> str:
    """Returns ``name`` if it is a valid tag name, else raises ValueError."""
    if not isinstance(name, str):
        raise ValueError(f"Tag names must be str, got {type(name).__qualname__}")
    if (
        not name
        or len(name) > _MAX_TAG_LENGTH
        or not _TAG_NAME.fullmatch(name)
        or ".." in name
        or name.endswith((".", ".lock"))
    ):
        raise ValueError(
            f"Invalid tag name {name!r}: use 1-{_MAX_TAG_LENGTH} characters of letters, "
            "digits, '.', '_', '-' in '/'-separated parts, not starting with '.' or '-' "
            "and without '..'"
        )
    return name


class StorageBackend(abc.ABC):
    """A storage backend: stores packed resources under their digests.

    A backend needs only :meth:`commit`, :meth:`has` and :meth:`get`. Richer
    backends also implement the optional capabilities below (batch commit,
    listing, deleting, tags, reporting malformed entries); the defaults raise
    :class:`UnsupportedOperation` or fall back to the three required methods.
    Listing never fails on one malformed entry: it skips it, and
    :meth:`problems` reports it.
    """

    #: Whether data read back is known to be what was committed, so the store
    #: need not re-hash it on every read. Only true for backends whose data
    #: never leaves the process; a persistent backend must leave it False.
    trusted: bool = False

    #: Whether grouping writes pays off (each write is a transaction), so that
    #: :meth:`Store.batch` should buffer commits for :meth:`commit_many`.
    batches_commits: bool = False

    #: Whether the backend was opened read-only: it never creates, changes or
    #: migrates anything, and every write raises :class:`ReadOnlyStoreError`.
    read_only: bool = False

    #: The storage format version of the store (:data:`FORMAT_VERSION` for a
    #: store this release created; lower for an older store read as it is),
    #: or None where versions mean nothing (a store in memory).
    format_version: int | None = None

    @abc.abstractmethod
    def commit(self, packed_resource: PackedResource[Any]) -> None:
        """Stores a packed resource (idempotent: committing twice is harmless)."""

    @abc.abstractmethod
    def has(self, ref: Ref[Any]) -> bool:
        """Returns whether the storage backend has the resource."""

    @abc.abstractmethod
    def get(self, ref: Ref[Any]) -> ResourceDict | None:
        """Returns the packed resource data or None if not available."""

    # --- Optional capabilities. ---

    def commit_many(self, packed_resources: Iterable[PackedResource[Any]]) -> None:
        """Stores several packed resources; backends may do this in one transaction."""
        for packed in packed_resources:
            self.commit(packed)

    def location(self, digest: str) -> str:
        """Describes where an object is kept, for error messages."""
        return f"{type(self).__name__} object {digest}"

    def iter_objects(self) -> Iterator[tuple[str, float]]:
        """Yields (digest, when last written) for every stored object.

        The time is in seconds since the epoch on the backend's clock
        (:meth:`now`). Committing an object that is already stored refreshes
        its time if it is older than :data:`REFRESH_INTERVAL`, so that gc's
        grace period protects objects a writer is still using.

        Never fails on a malformed entry (a key that is not a digest, a time
        that is not a number, a stray file): it skips it, and
        :meth:`problems` reports it. Every digest yielded is valid.
        """
        raise UnsupportedOperation(f"{type(self).__name__} cannot list its objects")

    def iter_digests(self) -> Iterator[str]:
        """Yields the digest of every stored object."""
        return (digest for digest, _ in self.iter_objects())

    def refresh(self, digests: Iterable[str]) -> None:  # noqa: B027 - optional, see below
        """Stamps stored objects as just written, so gc's grace period protects them.

        For writers that rely on objects already stored (``copy`` skips what
        the destination has); digests not stored are ignored. Backends that
        can delete must implement it; for the others there is nothing to do.
        """

    def delete(self, digests: Iterable[str], older_than: float | None = None) -> list[str]:
        """Deletes objects by digest; returns the digests deleted.

        With ``older_than``, only objects last written before that time (on
        the backend's clock) are deleted.
        """
        raise UnsupportedOperation(f"{type(self).__name__} cannot delete objects")

    def delete_all_or_none(self, digests: Iterable[str], older_than: float) -> bool:
        """Deletes all of the objects or none of them, atomically; returns whether it did.

        They are deleted, in one transaction, if every one is stored and was
        last written before ``older_than`` (on the backend's clock);
        otherwise none is. gc uses it to delete objects that refer to each
        other in one step, so that no other process ever sees a parent
        without its child. Optional: the default deletes nothing and returns
        False, and gc deletes in smaller steps with :meth:`delete`.
        """
        return False

    def now(self) -> float:
        """The backend's clock in seconds, as used by :meth:`iter_objects` (for gc)."""
        return wall_time()

    def get_tag(self, name: str) -> str | None:
        """Returns the digest a tag names, or None."""
        raise UnsupportedOperation(f"{type(self).__name__} does not support tags")

    def set_tag(self, name: str, digest: str) -> None:
        """Points a tag at a digest (creating or moving it)."""
        raise UnsupportedOperation(f"{type(self).__name__} does not support tags")

    def delete_tag(self, name: str) -> bool:
        """Deletes a tag; returns whether it existed."""
        raise UnsupportedOperation(f"{type(self).__name__} does not support tags")

    def compare_and_set_tag(self, name: str, expected: str | None, new: str | None) -> bool:
        """Atomically points a tag at ``new`` if it names ``expected`` now; returns whether it did.

        ``expected`` None means the tag must not exist; ``new`` None deletes
        it. Atomic against every other tag write, in this process and in any
        other sharing the store (the one primitive that lets several writers
        move a name without losing an update).
        """
        raise UnsupportedOperation(f"{type(self).__name__} cannot compare-and-set tags")

    def list_tags(self) -> dict[str, str]:
        """Returns every tag name and the digest it names.

        As :meth:`iter_objects`, never fails on a malformed entry (an invalid
        name, a value that is not a digest): it skips it, and :meth:`problems`
        reports it.
        """
        raise UnsupportedOperation(f"{type(self).__name__} does not support tags")

    def problems(self) -> Iterator[tuple[str, str]]:
        """Yields ``(location, detail)`` for every entry that listing skipped.

        An entry is what the backend keeps an object or a tag in (a row, a
        file): one that is neither a valid object nor a valid tag (a digest
        column that is not 64 lowercase hex digits, a tag naming no digest, a
        stray file or directory) is skipped by :meth:`iter_objects` and
        :meth:`list_tags`, so that one bad entry does not stop the others
        being listed, and reported here, so that it is not silently ignored:
        ``verify`` reports it and ``gc`` deletes nothing while any exists (a
        malformed tag might have named a root). ``location`` says where the
        entry is (for instance ``tags row 'main'`` or a file path), ``detail``
        what is wrong with it, both on one line. The contents of objects are
        not examined (``verify`` does that). A backend whose listing can skip
        entries must implement this; the default yields nothing.
        """
        return iter(())

    def migrate(self) -> tuple[int | None, int | None]:
        """Upgrades the store to :data:`FORMAT_VERSION`; returns (old, new) versions.

        Idempotent. Backends without versions have nothing to do.

        Raises:
            ReadOnlyStoreError: the backend was opened read-only.
        """
        return self.format_version, self.format_version

    # --- Optional capability: a run index (see enact_store._runs, enact.run). ---
    #
    # A backend that keeps durable runs implements all of these; the
    # defaults raise UnsupportedOperation. Times are on the backend's clock
    # (the server's, where it has one). A run's head is the tag
    # ``runs/NAME``; a checkpoint writes its objects, the tag and the entry
    # atomically (one transaction where the backend has them), and only if
    # the writer still holds the run's epoch (the fencing token).

    def run_get(self, name: str) -> RunEntry | None:
        """Returns a run's entry, or None. A read: never creates anything."""
        raise UnsupportedOperation(f"{type(self).__name__} keeps no run index")

    def run_list(self) -> list[RunEntry]:
        """Returns every run's entry (none if the index was never made). A read."""
        raise UnsupportedOperation(f"{type(self).__name__} keeps no run index")

    def run_calls(self, name: str) -> list[CallTime]:
        """Returns when each call of a run started and finished. A read."""
        raise UnsupportedOperation(f"{type(self).__name__} keeps no run index")

    def run_claim(
        self,
        name: str,
        *,
        request: str | None,
        owner: str,
        lease: float,
        force: bool,
        reopen: tuple[str, ...],
        head: str | None,
    ) -> tuple[str, RunEntry | None]:
        """Atomically makes ``owner`` the owner of a run (see :meth:`Runs.claim`).

        Creates the run (state running, epoch 1, the tag ``runs/NAME`` set
        to ``head``) if it does not exist and ``request`` and ``head`` are
        given. Takes an existing run over (epoch + 1, state running, lease
        renewed) if ``request`` is None or its own, and its lease lapsed, or
        ``force``, or its state is in ``reopen``.
        """
        raise UnsupportedOperation(f"{type(self).__name__} keeps no run index")

    def run_checkpoint(
        self,
        name: str,
        *,
        owner: str,
        epoch: int,
        objects: list[PackedResource[Any]],
        head: str | None,
        lease: float,
        calls_done: int,
        state: str,
        calls: list[CallTime],
    ) -> bool:
        """Atomically writes ``objects``, points ``runs/NAME`` at ``head`` (None: unchanged)
        and updates the entry (state, lease_until = now + lease, updated_at, calls_done) and
        the call times, if ``owner`` holds ``epoch``; returns whether it did."""
        raise UnsupportedOperation(f"{type(self).__name__} keeps no run index")

    def run_heartbeat(self, name: str, *, owner: str, epoch: int, lease: float) -> bool:
        """Renews a running run's lease if ``owner`` holds ``epoch``; returns whether it did."""
        raise UnsupportedOperation(f"{type(self).__name__} keeps no run index")

    def run_create(self, name: str, *, request: str, head: str, state: str) -> bool:
        """Creates a run without owner (epoch 0) and its tag, if none has that name."""
        raise UnsupportedOperation(f"{type(self).__name__} keeps no run index")

    def run_delete(self, name: str) -> bool:
        """Deletes a run's entry, call times and tag; returns whether the run existed."""
        raise UnsupportedOperation(f"{type(self).__name__} keeps no run index")

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Releases resources such as connections; the backend is unusable after."""


#: Seconds after which re-committing a stored object refreshes its write time.
REFRESH_INTERVAL = 60.0
