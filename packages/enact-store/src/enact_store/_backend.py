"""The storage backend contract: StorageBackend, and the tag names backends accept."""

from __future__ import annotations

import abc
import re
from collections.abc import Iterable, Iterator
from time import time as wall_time
from typing import TYPE_CHECKING, Any, ClassVar

from enact_resource import ResourceDict
from enact_store._errors import UnsupportedOperation
from enact_store._ref import PackedResource, Ref

if TYPE_CHECKING:
    from enact_store._runs import CallTime, RunEntry, RunStep

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
    """Where a store keeps its objects and tags: the contract every backend implements.

    A backend keeps *objects*, each a ResourceDict (``packed.data``) under the
    digest of the resource it packs (``packed.ref.digest``: 64 lowercase hex
    digits), and optionally *tags*, names that point at digests.
    :class:`Store` does the rest (packing, verifying what it reads, batching,
    refusing dangling refs); :func:`verify`, :func:`gc` and :func:`copy` use
    the optional methods. To write a backend: subclass this, implement the
    three required methods and the optional ones you need, and run the
    conformance suite, :mod:`enact_store.testing`, on it (the enact-store
    README shows how). Persistent backends store objects as the bytes of
    :func:`encode_object` and read them with :func:`decode_object`.

    What a backend implements (R: required; O: optional, and what the default
    does). Each method's docstring states its promise in full.

    ======================  ==  ====================================================
    method                      default
    ======================  ==  ====================================================
    ``commit``              R   (stores one object: atomic, durable on return)
    ``has``, ``get``        R   (look an object up; read it back)
    ``commit_many``         O   commits each object in turn
    ``location``            O   ``"<class name> object <digest>"``
    ``iter_objects``        O   raises UnsupportedOperation (no verify, no gc)
    ``iter_digests``        O   the digests that ``iter_objects`` yields
    ``refresh``             O   does nothing (implement it if you implement delete)
    ``delete``              O   raises UnsupportedOperation (no gc)
    ``delete_all_or_none``  O   returns False (gc then deletes layer by layer)
    ``now``                 O   ``time.time()``
    ``read_raw``            O   raises UnsupportedOperation
    ``read_raw_many``       O   ``read_raw`` of each digest
    ``get_tag``, ``set_tag``, ``delete_tag``, ``list_tags``, ``compare_and_set_tag``
                            O   raise UnsupportedOperation (no tags)
    ``problems``            O   yields nothing
    ``migrate``             O   returns ``(format_version, format_version)``
    ``close``               O   does nothing
    ======================  ==  ====================================================

    Attributes (class attributes with these defaults, or set per instance):
    :attr:`trusted` (False), :attr:`batches_commits` (False),
    :attr:`read_only` (False), :attr:`format_version` (None).

    Optional capability, all or none: a run index for durable runs
    (``run_get``, ``run_list``, ``run_calls``, ``run_claim``,
    ``run_checkpoint``, ``run_heartbeat``, ``run_create``, ``run_delete``;
    defaults raise :class:`UnsupportedOperation`). Its promises are stated
    where the methods are defined below: a checkpoint writes its objects,
    the run's head tag and its entry atomically, and only while the writer
    holds the run's epoch; reads (``run_get``, ``run_list``, ``run_calls``)
    never create the index.

    Promises that hold for every method:

    - **Threads.** One instance serves every thread of a process (a batch is
      written by whichever thread fills it): every method is safe to call
      from several threads at once.
    - **Processes.** Where the data lives outside the process (files, a
      database), processes with instances of their own may use it at once,
      and every promise here holds between them as between threads.
    - **Objects are atomic and immutable.** An object is stored whole or not
      at all: no reader, in any thread or process, ever sees part of one,
      also when the writer is killed mid-write. A digest always names the
      same content, so committing a stored object again changes nothing
      but its write time (see :meth:`commit`).
    - **Durable on return.** Once :meth:`commit` or :meth:`commit_many`
      returns, the object is visible to every reader of the store and
      survives the process being killed (SIGKILL); the same holds for the
      tag methods. A backend whose data lives in the process promises this
      for the life of the process.
    - **Reads never write.** :meth:`has`, :meth:`get`, :meth:`read_raw`,
      :meth:`read_raw_many`, :meth:`iter_objects`, :meth:`iter_digests`,
      :meth:`get_tag`, :meth:`list_tags` and :meth:`problems` change nothing
      in storage.
    - **Read-only.** With :attr:`read_only` true, nothing is created, changed
      or migrated, and every method that writes raises
      :class:`ReadOnlyStoreError`.
    - **Arguments.** Digests that the store, verify, gc and copy pass are 64
      lowercase hex digits, and tag names pass :func:`check_tag_name`; a
      backend that builds a path or a query from one checks it again
      (raising :class:`RefError` or ValueError), as the built-in ones do.
    - **Errors.** A failure of the storage raises a :class:`StoreError`
      (:class:`StoreIOError` where the operating system refuses) whose
      message is one line naming the store, and never holds a credential.
    """

    #: Whether :meth:`get` returns the very ResourceDict that was committed
    #: (it never left the process), so that the store need not re-hash what
    #: it reads. Only for backends whose data never leaves the process: a
    #: backend that encodes, or whose data other processes can change, must
    #: leave it False.
    trusted: bool = False

    #: Whether each write is a transaction of its own, so that grouping
    #: writes pays off: :meth:`Store.batch` then buffers the commits of its
    #: block and writes them with one :meth:`commit_many`.
    batches_commits: bool = False

    #: Whether the backend was opened read-only: it never creates, changes or
    #: migrates anything, and every write raises :class:`ReadOnlyStoreError`.
    read_only: bool = False

    #: The storage format version of the store (:data:`FORMAT_VERSION` for a
    #: store this release created; lower for an older store read as it is),
    #: or None where versions mean nothing (a store in memory, or a backend
    #: with a layout of its own).
    format_version: int | None = None

    # --- Required. ---

    @abc.abstractmethod
    def commit(self, packed_resource: PackedResource[Any]) -> None:
        """Stores ``packed_resource.data`` under ``packed_resource.ref.digest``.

        Idempotent: committing a stored object again is harmless, and if its
        write time is older than :data:`REFRESH_INTERVAL`, refreshes it (for
        backends that list write times: see :meth:`iter_objects`). Atomic
        and durable on return (see the class docstring). Nothing changes
        ``packed_resource.data`` once it is handed over: a backend may keep
        it as it is. A backend that encodes (:func:`encode_object`) raises
        what encoding raises (:class:`~enact_resource.SerializationError`
        for a type that is not registered) and stores nothing.

        Raises:
            ReadOnlyStoreError: the backend was opened read-only.
        """

    @abc.abstractmethod
    def has(self, ref: Ref[Any]) -> bool:
        """Returns whether the object named by ``ref.digest`` is stored. Never writes."""

    @abc.abstractmethod
    def get(self, ref: Ref[Any]) -> ResourceDict | None:
        """Returns the ResourceDict of the object named by ``ref.digest``, or None.

        What was committed, read back: the same type and fields, so the same
        digest. It may be the same object on every call (callers never change
        it). Need not check the digest: the store verifies what it reads
        unless the backend is :attr:`trusted`. Never writes.

        Raises:
            CorruptionError: the stored data cannot be decoded (naming where
                it is: :meth:`location`).
        """

    # --- Optional. ---

    def commit_many(self, packed_resources: Iterable[PackedResource[Any]]) -> None:
        """Stores several objects, with the promises of :meth:`commit`.

        A backend with transactions writes them in one (all or none), after
        encoding every one, so that an object that cannot be encoded stores
        nothing. The default commits each in turn.
        """
        for packed in packed_resources:
            self.commit(packed)

    def location(self, digest: str) -> str:
        """Says where an object is (or would be) kept, for messages: one line, no credential.

        Called only to report a problem. The default names the class.
        """
        return f"{type(self).__name__} object {digest}"

    def iter_objects(self) -> Iterator[tuple[str, float]]:
        """Yields (digest, when last written) for every stored object.

        The time is in seconds on the backend's clock (:meth:`now`).
        Committing an object that is already stored refreshes its time if it
        is older than :data:`REFRESH_INTERVAL`, so that gc's grace period
        protects objects a writer is still using. Never writes; objects
        committed or deleted while it runs may or may not be listed.

        Never fails on a malformed entry (a key that is not a digest, a time
        that is not a number, a stray file): it skips it, and
        :meth:`problems` reports it. Every digest yielded is valid.

        Needed by verify and gc. The default raises UnsupportedOperation.
        """
        raise UnsupportedOperation(f"{type(self).__name__} cannot list its objects")

    def iter_digests(self) -> Iterator[str]:
        """Yields the digest of every stored object (the default: from :meth:`iter_objects`)."""
        return (digest for digest, _ in self.iter_objects())

    def refresh(self, digests: Iterable[str]) -> None:  # noqa: B027 - optional, see below
        """Stamps the stored objects among ``digests`` as just written (on :meth:`now`'s clock).

        For writers that rely on objects already stored (``copy`` skips what
        the destination has; a replay reuses recorded calls), so that a
        concurrent gc keeps them; digests not stored are ignored. Backends
        that can delete must implement it; for the others there is nothing
        to do, and the default does nothing.

        Raises:
            ReadOnlyStoreError: the backend was opened read-only.
        """

    def delete(self, digests: Iterable[str], older_than: float | None = None) -> list[str]:
        """Deletes objects by digest; returns the digests deleted.

        Digests not stored are ignored. With ``older_than``, only objects
        last written before that time (on the backend's clock) are deleted,
        and the time is checked atomically with the deletion where the
        storage allows (a commit that refreshes an object meanwhile keeps
        it). Each object is deleted whole (atomically). Needed by gc. The
        default raises UnsupportedOperation.

        Raises:
            ReadOnlyStoreError: the backend was opened read-only.
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

        Raises:
            ReadOnlyStoreError: the backend was opened read-only.
        """
        return False

    def now(self) -> float:
        """The backend's clock in seconds: the clock of :meth:`iter_objects`' times.

        An object committed after ``now()`` returned is stamped no earlier
        than what it returned (gc's grace period rests on this). The default,
        ``time.time()``, is right for a backend that stamps objects with it.
        """
        return wall_time()

    def read_raw(self, digest: str) -> bytes | None:
        """Returns the stored bytes of an object, or None if it is not stored.

        The bytes of :func:`encode_object`, which :func:`decode_object`
        decodes: for backends that keep objects so. verify and gc read
        through :meth:`read_raw_many` where a backend has it, through
        :meth:`get` otherwise. Never writes. The default raises
        UnsupportedOperation.

        Raises:
            CorruptionError: the object's entry cannot be read as bytes (a
                file store refuses a link or a FIFO in place of a file).
        """
        raise UnsupportedOperation(f"{type(self).__name__} cannot read stored bytes")

    def read_raw_many(self, digests: Iterable[str]) -> dict[str, bytes]:
        """Returns the stored bytes (as :meth:`read_raw`) of those objects the backend holds.

        By digest; objects not stored are left out. A backend that can read
        many objects in one round trip should (verify and gc read a whole
        store, 500 objects at a time). The default calls :meth:`read_raw` for
        each digest.
        """
        found = {}
        for digest in digests:
            data = self.read_raw(digest)
            if data is not None:
                found[digest] = data
        return found

    def get_tag(self, name: str) -> str | None:
        """Returns the digest the tag ``name`` points at, or None. Never writes.

        The default raises UnsupportedOperation (a backend without tags).

        Raises:
            RefError: what the tag holds is not a digest.
        """
        raise UnsupportedOperation(f"{type(self).__name__} does not support tags")

    def set_tag(self, name: str, digest: str) -> None:
        """Points the tag ``name`` at ``digest``, creating or moving it.

        Atomic (a reader sees the old value or the new one) and durable on
        return. The store has checked that it holds the object.

        Raises:
            ReadOnlyStoreError: the backend was opened read-only.
        """
        raise UnsupportedOperation(f"{type(self).__name__} does not support tags")

    def delete_tag(self, name: str) -> bool:
        """Deletes a tag; returns whether it existed. Atomic and durable on return.

        Raises:
            ReadOnlyStoreError: the backend was opened read-only.
        """
        raise UnsupportedOperation(f"{type(self).__name__} does not support tags")

    def compare_and_set_tag(self, name: str, expected: str | None, new: str | None) -> bool:
        """Atomically points a tag at ``new`` if it names ``expected`` now; returns whether it did.

        ``expected`` None means the tag must not exist; ``new`` None deletes
        it. Atomic against every other tag write, in this process and in any
        other sharing the store (the one primitive that lets several writers
        move a name without losing an update); durable on return.

        Raises:
            ReadOnlyStoreError: the backend was opened read-only.
        """
        raise UnsupportedOperation(f"{type(self).__name__} cannot compare-and-set tags")

    def list_tags(self) -> dict[str, str]:
        """Returns every tag name and the digest it names. Never writes.

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
        not examined (``verify`` does that). Never writes. A backend whose
        listing can skip entries must implement this; the default yields
        nothing.
        """
        return iter(())

    def migrate(self) -> tuple[int | None, int | None]:
        """Upgrades the store to :data:`FORMAT_VERSION`; returns (old, new) versions.

        Idempotent. Backends without versions have nothing to do (the
        default).

        Raises:
            ReadOnlyStoreError: the backend was opened read-only.
        """
        return self.format_version, self.format_version

    # --- Optional capability: a run index (see enact_store._runs, enact.run). ---
    #
    # A backend that keeps durable runs implements all of these; the
    # defaults raise UnsupportedOperation. Times are on the backend's clock
    # (the server's, where it has one). A run's head is the tag
    # ``runs/NAME``; a checkpoint writes its objects, its steps (RunStep),
    # the tag if it moves and the entry atomically (one transaction where
    # the backend has them), durable on return, and only if the writer still
    # holds the run's epoch (the fencing token).

    #: Whether :meth:`run_checkpoint` keeps ``logged`` objects in the run's own log
    #: (cheaper to append to than the objects, read back by :meth:`run_log`) until a
    #: checkpoint with ``move_log`` moves them into the store. False: the store
    #: never gives it ``logged`` objects.
    run_logs_objects: ClassVar[bool] = False

    def run_get(self, name: str) -> RunEntry | None:
        """Returns a run's entry, or None. A read: never creates anything."""
        raise UnsupportedOperation(f"{type(self).__name__} keeps no run index")

    def run_list(self) -> list[RunEntry]:
        """Returns every run's entry (none if the index was never made). A read."""
        raise UnsupportedOperation(f"{type(self).__name__} keeps no run index")

    def run_calls(self, name: str) -> list[CallTime]:
        """Returns when each call of a run started and finished (its steps' times). A read."""
        raise UnsupportedOperation(f"{type(self).__name__} keeps no run index")

    def run_steps(self, name: str, after: int) -> list[RunStep]:
        """Returns each path's latest step if its ``seq > after`` (any order). A read."""
        raise UnsupportedOperation(f"{type(self).__name__} keeps no run index")

    def run_log(self, name: str) -> dict[str, bytes]:
        """Returns the objects in a run's log (see :attr:`run_logs_objects`): digest to
        stored bytes (:func:`encode_object`). A read; the default: none."""
        return {}

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
        logged: list[PackedResource[Any]],
        move_log: bool,
        head: str | None,
        head_seq: int | None,
        lease: float,
        calls_done: int,
        state: str,
        steps: list[RunStep],
    ) -> bool:
        """Atomically writes ``objects`` (and ``logged`` ones to the run's log; with
        ``move_log``, moves the log's objects into the store), points ``runs/NAME`` at
        ``head`` (None: unchanged; else the entry's head_seq becomes ``head_seq``),
        logs ``steps`` (each replaces its path's step, keeping its times if it has
        none: see RunStep) and updates the entry (state, lease_until = now + lease,
        updated_at, calls_done), if ``owner`` holds ``epoch``; returns whether it
        did. Durable on return."""
        raise UnsupportedOperation(f"{type(self).__name__} keeps no run index")

    def run_heartbeat(self, name: str, *, owner: str, epoch: int, lease: float) -> bool:
        """Renews a running run's lease if ``owner`` holds ``epoch``; returns whether it did."""
        raise UnsupportedOperation(f"{type(self).__name__} keeps no run index")

    def run_create(self, name: str, *, request: str, head: str, state: str) -> bool:
        """Creates a run without owner (epoch 0) and its tag, if none has that name."""
        raise UnsupportedOperation(f"{type(self).__name__} keeps no run index")

    def run_delete(self, name: str) -> bool:
        """Deletes a run's entry, steps and tag; returns whether the run existed."""
        raise UnsupportedOperation(f"{type(self).__name__} keeps no run index")

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Releases connections and files; the backend is not used after. Idempotent."""


#: Seconds after which re-committing a stored object refreshes its write time.
REFRESH_INTERVAL = 60.0
