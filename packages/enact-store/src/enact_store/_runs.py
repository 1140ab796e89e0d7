"""The run index: what a store keeps about durable named runs, beside their records.

A durable run (``enact.run``) is named; its head, the latest (possibly
partial) top-level invocation record, is the tag ``runs/NAME``, so that gc
keeps everything the run reached. What is not content (the run's owner, its
fencing epoch and lease, its state, its times, and when each call started
and finished) lives beside the records, in the backend's run index: a table
in SQLite and PostgreSQL, files under ``runs/`` in a file store, a dict in
memory. Records themselves never hold times, owners or random ids.

The backend side is an optional capability of :class:`StorageBackend` (its
``run_*`` methods); a backend without it raises :class:`UnsupportedOperation`.
:class:`Runs` (``store.runs``) is the store's view of it, used by
``enact.run``; most programs never use it directly.
"""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from enact_store._backend import check_tag_name
from enact_store._ref import PackedResource, Ref, check_digest

if TYPE_CHECKING:
    from enact_store._store import Store

__all__ = [
    "RUN_STATES",
    "RUN_TAG_PREFIX",
    "CallTime",
    "RunEntry",
    "RunStep",
    "Runs",
    "check_run_name",
    "run_tag",
]

#: Tags naming run heads start with this (the tag of run ``a`` is ``runs/a``).
RUN_TAG_PREFIX = "runs/"

#: The states a run index records. ``running``: an owner holds (or held) the
#: lease; ``done``: the top-level call returned; ``raised``: it raised;
#: ``waiting_input``: it raised an InputRequest; ``interrupted``: its owner
#: stopped it (KeyboardInterrupt...) or it was forked, and it can be resumed.
RUN_STATES = ("running", "done", "raised", "waiting_input", "interrupted")


@dataclasses.dataclass(frozen=True)
class RunEntry:
    """One run in a run index (times in seconds since the epoch, on the backend's clock).

    Attributes:
        name: the run's name.
        request: the digest of the run's top-level Request.
        owner: who holds or last held the run ('' for none).
        epoch: the fencing token: bumped by every claim, checked by every write.
        lease_until: when the owner's lease lapses.
        state: one of :data:`RUN_STATES`.
        started_at: when the run was first started.
        updated_at: when it last moved (for a finished run, when it ended).
        calls_done: tracked calls finished in it (a call re-run after a crash counts again).
        now: the backend's clock when this entry was read (to judge the lease).
        head_seq: the steps the head includes: those logged with ``seq <= head_seq``
            (see :class:`RunStep`).
    """

    name: str
    request: str
    owner: str
    epoch: int
    lease_until: float
    state: str
    started_at: float
    updated_at: float
    calls_done: int
    now: float
    head_seq: int = 0

    @property
    def live(self) -> bool:
        """Whether an owner holds the run's lease now."""
        return self.state == "running" and self.lease_until > self.now


@dataclasses.dataclass(frozen=True)
class CallTime:
    """When a call of a run started and finished.

    ``path`` is the call's position from the top-level call: ``""`` for the
    top-level call itself, ``"3"`` for its fourth child, ``"3/0"`` for that
    child's first child.
    """

    path: str
    started: float
    finished: float


@dataclasses.dataclass(frozen=True)
class RunStep:
    """A change to a run's calls, logged by a checkpoint so that the head need not move.

    A checkpoint logs what changed since the last one, keyed by path (see
    :class:`CallTime`): a call that started (``request`` and ``started``
    set, ``invocation`` None), a call that finished (``invocation``, the
    digest of its record, with ``started`` and ``finished``) or a slot
    filled without running anything (a reused or cached call: ``invocation``
    only, no times). ``seq`` is the run's ``calls_done`` after the
    checkpoint that logged it: the head includes every step with ``seq <=
    RunEntry.head_seq``, and resuming applies the later ones to it. A path
    holds its latest step; a step without times keeps the times the path had.
    """

    path: str
    seq: int
    request: str | None = None
    invocation: str | None = None
    started: float | None = None
    finished: float | None = None

    @property
    def time(self) -> CallTime | None:
        """When the call started and finished, if it finished here."""
        if self.started is None or self.finished is None:
            return None
        return CallTime(self.path, self.started, self.finished)


def step_from(
    path: Any, seq: Any, request: Any, invocation: Any, started: Any, finished: Any
) -> RunStep:
    """A step from the values a backend kept (a row, a line), checked and typed."""
    return RunStep(
        str(path),
        int(seq),
        None if request is None else check_digest(str(request)),
        None if invocation is None else check_digest(str(invocation)),
        None if started is None else float(started),
        None if finished is None else float(finished),
    )


def fold_step(previous: RunStep | None, step: RunStep) -> RunStep:
    """A path's step after ``step`` is logged over ``previous`` (times kept by a fill)."""
    if previous is not None and step.started is None:
        return dataclasses.replace(step, started=previous.started, finished=previous.finished)
    return step


def check_run_name(name: object) -> str:
    """Returns ``name`` if it names a run (its tag ``runs/NAME`` is a valid tag name)."""
    if type(name) is str and name in _CHECKED_NAMES:
        return name  # (Each checkpoint of a run names it: checked once.)
    if not isinstance(name, str):
        raise ValueError(f"Run names must be str, got {type(name).__qualname__}")
    try:
        check_tag_name(RUN_TAG_PREFIX + name)
        check_tag_name(name)
    except ValueError:
        raise ValueError(
            f"Invalid run name {name!r}: use letters, digits, '.', '_', '-' in "
            "'/'-separated parts, not starting with '.' or '-', without '..', "
            f"at most {200 - len(RUN_TAG_PREFIX)} characters"
        ) from None
    if type(name) is str:
        if len(_CHECKED_NAMES) >= 1024:
            _CHECKED_NAMES.clear()
        _CHECKED_NAMES.add(name)
    return name


# Run names found valid (a str subclass could change its value: not kept).
_CHECKED_NAMES: set[str] = set()


def claim_outcome(
    entry: RunEntry, request: str | None, force: bool, reopen: Collection[str]
) -> str:
    """What a claim of an existing run comes to (every backend decides alike)."""
    if request is not None and entry.request != request:
        return "conflict"
    if entry.state == "running":
        return "claimed" if force or entry.lease_until <= entry.now else "busy"
    return "claimed" if entry.state in reopen else "finished"


def path_key(call: CallTime) -> tuple[int, ...]:
    """Sorts call times by path, numerically."""
    return tuple(int(part) for part in call.path.split("/") if part)


def run_tag(name: str) -> str:
    """The tag that names a run's head."""
    return RUN_TAG_PREFIX + check_run_name(name)


class Runs:
    """A store's run index (``store.runs``): the low-level side of ``enact.run``.

    Every write is atomic and fenced: :meth:`claim` makes the caller the
    run's owner with a new epoch, and :meth:`checkpoint` and
    :meth:`heartbeat` succeed only for the owner of the current epoch.

    Raises (every method):
        UnsupportedOperation: the backend keeps no run index.
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, name: str) -> RunEntry | None:
        """The entry of a run, or None (a read: never writes)."""
        return self._store.backend.run_get(check_run_name(name))

    def all(self) -> list[RunEntry]:
        """Every run's entry, by name (a read: never writes)."""
        return sorted(self._store.backend.run_list(), key=lambda entry: entry.name)

    def head(self, name: str) -> Ref[Any] | None:
        """The run's head (its latest record), or None."""
        tag = run_tag(name)
        return self._store.tags.get(tag)

    def calls(self, name: str) -> builtins.list[CallTime]:
        """When each call of the run started and finished, by path (a read)."""
        return self._store.backend.run_calls(check_run_name(name))

    def steps(self, name: str, after: int = 0) -> builtins.list[RunStep]:
        """Each path's latest step if logged with ``seq > after``, by path (a read).

        By path, numerically: a call before its children, children in order.
        ``after=entry.head_seq`` gives what the head does not include yet.
        """
        steps = self._store.backend.run_steps(check_run_name(name), after)
        return sorted(
            steps, key=lambda step: tuple(int(part) for part in step.path.split("/") if part)
        )

    def recover_log(self, name: str) -> int:
        """Makes the objects in the run's log readable; returns how many.

        A checkpoint that does not move the head may keep the call's objects
        in the run's log (see :attr:`StorageBackend.run_logs_objects`) until
        a later one moves them; a crash leaves them there. In a
        :meth:`Store.batch` they are read from the batch, and written with it
        (or moved by the next checkpoint that moves the head); outside one
        they are written at once. Objects are content: writing them again is
        always safe.
        """
        from enact_store._codec import decode_object  # (Only a resume needs it.)

        logged = self._store.backend.run_log(check_run_name(name))
        if logged:
            ref_type = self._store.ref_type
            self._store._stage_logged(
                [
                    PackedResource(
                        decode_object(digest, data, f"the log of run {name!r}"),
                        ref_type.from_digest(digest),
                    )
                    for digest, data in logged.items()
                ]
            )
        return len(logged)

    def claim(
        self,
        name: str,
        *,
        request: str | None,
        owner: str,
        lease: float,
        force: bool = False,
        reopen: Collection[str] = ("interrupted",),
        head: Ref[Any] | None = None,
    ) -> tuple[str, RunEntry | None]:
        """Makes ``owner`` the run's owner, atomically, if it may be.

        A new run (``request`` given, ``head`` its first record) is created;
        an existing one is taken over if its request is ``request`` (None:
        any) and either its lease lapsed, ``force``, or its state is in
        ``reopen``; its epoch is then bumped, so that the previous owner's
        next write fails.

        Returns:
            ``(outcome, entry)``: outcome ``"claimed"`` (entry: the new one),
            ``"conflict"`` (another request), ``"busy"`` (a live owner),
            ``"finished"`` (a state not in ``reopen``) or ``"missing"`` (no
            such run, and no ``request``/``head`` to create it).
        """
        if head is not None:
            self._store.flush()
            if not self._store.has(head):
                raise ValueError(f"Cannot start run {name!r}: its head is not in the store")
        return self._store.backend.run_claim(
            check_run_name(name),
            request=request,
            owner=owner,
            lease=float(lease),
            force=force,
            reopen=tuple(reopen),
            head=None if head is None else head.digest,
        )

    def checkpoint(
        self,
        name: str,
        *,
        owner: str,
        epoch: int,
        head: Ref[Any] | None,
        lease: float,
        calls_done: int,
        state: str = "running",
        steps: Sequence[RunStep] = (),
        head_seq: int | None = None,
        move_log: bool = False,
    ) -> bool:
        """Logs a run's steps and moves its entry (and head), with the objects not yet written.

        In one transaction where the backend has them (SQLite, PostgreSQL):
        the objects pending in the current :meth:`Store.batch`, the steps,
        the tag (if ``head`` is given; ``head_seq``: the steps it includes,
        default ``calls_done``), the entry (state, lease renewed from the
        backend's clock, calls done); only if ``owner`` still holds ``epoch``.

        Returns:
            Whether it was written (False: another owner claimed the run).
        """
        if state not in RUN_STATES:
            raise ValueError(f"Unknown run state {state!r}")
        return self._store._write_run_checkpoint(
            check_run_name(name),
            owner=owner,
            epoch=epoch,
            head=None if head is None else head.digest,
            head_seq=None if head is None else (calls_done if head_seq is None else head_seq),
            lease=float(lease),
            calls_done=calls_done,
            state=state,
            steps=list(steps),
            move_log=move_log,
        )

    def heartbeat(self, name: str, *, owner: str, epoch: int, lease: float) -> bool:
        """Renews the owner's lease; returns False if it no longer holds the run."""
        return self._store.backend.run_heartbeat(
            check_run_name(name), owner=owner, epoch=epoch, lease=float(lease)
        )

    def create(self, name: str, *, request: str, head: Ref[Any], state: str) -> bool:
        """Creates a run without owner, its head ``head``; False if one has that name."""
        if state not in RUN_STATES:
            raise ValueError(f"Unknown run state {state!r}")
        self._store.flush()
        if not self._store.has(head):
            raise ValueError(f"Cannot create run {name!r}: its head is not in the store")
        return self._store.backend.run_create(
            check_run_name(name), request=request, head=head.digest, state=state
        )

    def delete(self, name: str) -> bool:
        """Deletes a run's entry, steps and head tag; returns whether it existed.

        Its records stay until gc finds them unreachable.
        """
        return self._store.backend.run_delete(check_run_name(name))
