"""Durable named runs: every finished call is durable as it finishes; a run resumes anywhere.

A run is a tracked invocation with a name. Its head, the latest (possibly
partial) top-level record, is the tag ``runs/NAME``; its owner, lease, state
and times are in the store's run index (``store.runs``), never in records.

Durability: while a run is active, each tracked call that finishes (at any
depth, also one that raised) is *checkpointed* before the code that called
it goes on: its objects and a step (see enact_store.RunStep: its position
and record, with the calls started or reused since the last checkpoint) are
written together, in one transaction on SQLite and PostgreSQL, and only if
this process still owns the run (its epoch is checked in the same
transaction). A checkpoint's size does not grow with the run. The head (a
record of the whole run: each unfinished call with its children so far, no
output, so that positions never shift) is rebuilt and moved only now and
then (see ``_HEAD_*``) and when the run ends or stops. A crash at any moment
loses only the calls in flight (started, not finished); resuming applies the
steps logged since the head moved to it (:func:`_apply_steps`), then re-runs
the top-level call with it as its replay guide: every finished call is
reused and the calls in flight re-run (their own finished children reused).

One writer per run: :func:`run` and :func:`resume` claim the run (a new
epoch, a lease of ``lease`` seconds on the store's clock), renewed by a
heartbeat thread and by each checkpoint. Another process gets
:class:`RunInProgress` while the lease is live; once it lapses (the owner
died) anyone may take over; ``force=True`` takes over at once, and the old
owner raises :class:`RunOwnershipLost` at its next checkpoint.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
from time import monotonic
from time import time as wall_time
from typing import Any, cast

from enact_invoke._async import AsyncInvokableBase
from enact_invoke._engine import (
    RUNS,
    Frame,
    close_invocation,
    commit_in_flight,
    enter_invocation,
    in_flight_record,
    leave_invocation,
    open_invocation,
    reset_frame,
    set_frame,
)
from enact_invoke._exceptions import (
    ExceptionResource,
    InvokableTypeError,
    RunConflict,
    RunInProgress,
    RunOwnershipLost,
)
from enact_invoke._input import InputRequest
from enact_invoke._invokable import InvokableBase
from enact_invoke._records import ExceptionOverride, Invocation, Request
from enact_resource import NoneResource, ResourceBase
from enact_store import NotFound, Ref, RunEntry, RunStep, Store

__all__ = ["RunStatus", "delete_run", "fork", "resume", "run", "run_status", "runs"]

# The states resume() takes a run over from (run() only from "interrupted").
_RESUMABLE = ("interrupted", "raised", "waiting_input")


@dataclasses.dataclass(frozen=True)
class RunStatus:
    """What the store knows of a durable run (times: seconds since the epoch).

    Attributes:
        name: the run's name.
        state: ``"running"`` (an owner holds its lease), ``"done"``,
            ``"raised"``, ``"waiting_input"`` (paused on an InputRequest) or
            ``"interrupted"`` (stopped, or its owner died: resumable).
        invocation: the run's head: its latest record, partial while it runs
            (moved now and then, not at each call: ``calls_done`` counts every
            call finished, also those since).
        calls_done: tracked calls finished in the run (one re-run after a
            crash counts again).
        started_at: when the run was first started.
        updated_at: its last checkpoint (for a finished run, when it ended).
        owner: who runs or last ran it (host:pid:id; '' for a fork never run).
        lease_until: when the owner's lease lapses (if state is running).
    """

    name: str
    state: str
    invocation: Ref[Invocation[Any, Any]] | None
    calls_done: int
    started_at: float
    updated_at: float
    owner: str
    lease_until: float


def _status(entry: RunEntry, head: Ref[Any] | None) -> RunStatus:
    state = entry.state
    if state == "running" and not entry.live:
        state = "interrupted"  # Its owner died (or stalled) and its lease lapsed.
    return RunStatus(
        entry.name,
        state,
        head,
        entry.calls_done,
        entry.started_at,
        entry.updated_at,
        entry.owner,
        entry.lease_until,
    )


def run_status(name: str) -> RunStatus:
    """Returns the status of the durable run ``name`` in the active store (a read).

    Raises:
        NotFound: no run has that name.
        UnsupportedOperation: the store's backend keeps no run index.
    """
    store = Store.current()
    entry = store.runs.get(name)
    if entry is None:
        raise NotFound(f"No run named {name!r} in {store!r}")
    return _status(entry, store.runs.head(name))


def runs() -> list[RunStatus]:
    """Returns the status of every durable run in the active store, by name (a read)."""
    store = Store.current()
    return [_status(entry, store.runs.head(entry.name)) for entry in store.runs.all()]


def delete_run(name: str, *, force: bool = False) -> None:
    """Deletes a durable run: its entry, call times and head tag.

    Its records are no longer reachable from its name; gc deletes them once
    nothing else reaches them.

    Raises:
        NotFound: no run has that name.
        RunInProgress: an owner holds its lease (``force=True`` deletes anyway).
    """
    store = Store.current()
    entry = store.runs.get(name)
    if entry is not None and entry.live and not force:
        raise RunInProgress(
            f"Run {name!r} is running (owner {entry.owner}): "
            "stop it first, or delete it with force=True"
        )
    if not store.runs.delete(name):
        raise NotFound(f"No run named {name!r} in {store!r}")


def fork(name: str, new_name: str, rewind: int = 1) -> RunStatus:
    """Makes a new run whose record is ``name``'s with its last ``rewind`` top-level
    children dropped; ``name`` is unchanged.

    The new run is ``"interrupted"``: :func:`run` (with the same invokable
    and input) or :func:`resume` continues it, re-running only the calls
    dropped.

    Raises:
        NotFound: no run is named ``name``.
        RunConflict: a run is named ``new_name`` already.
        ValueError: ``rewind`` is not a whole number >= 0.
    """
    if isinstance(rewind, bool) or not isinstance(rewind, int) or rewind < 0:
        raise ValueError(f"rewind must be a whole number >= 0, got {rewind!r}")
    store = Store.current()
    entry = store.runs.get(name)
    head = store.runs.head(name)
    if entry is None or head is None:
        raise NotFound(f"No run named {name!r} in {store!r}")
    with store.batch():
        head = _latest_record(store, entry, head) or head
        recorded = store.load(head)
        request_ref: Ref[Request[Any, Any]] = recorded["request"]
        children = list(store.load(recorded["response"])["children"])
        kept = children[: max(0, len(children) - rewind)]
        new_head = commit_in_flight(store, request_ref, store.load(request_ref)["invokable"], kept)
        created = store.runs.create(
            new_name, request=entry.request, head=new_head, state="interrupted"
        )
    if not created:
        raise RunConflict(f"Cannot fork {name!r}: a run named {new_name!r} exists already")
    return run_status(new_name)


def run(
    name: str,
    invokable: InvokableBase[Any, Any],
    input: Ref[Any] | ResourceBase | None = None,
    *,
    lease: float = 30.0,
    force: bool = False,
    strict: bool = True,
) -> Invocation[Any, Any]:
    """Runs ``invokable`` on ``input`` as the durable run ``name`` in the active store.

    Starts the run; or, if it exists unfinished (interrupted, or its owner
    died), resumes it, reusing every call it finished; or, if it finished
    (done, raised, or waiting for input), returns its record without running
    anything. Each tracked call that finishes is durable at once (see the
    module docstring); the run's record is the same as :meth:`invoke`'s.

    Args:
        name: the run's name (letters, digits, '.', '_', '-', '/'-separated).
        invokable: a sync invokable (its async calls and threads are fine).
        input: a ref to the input, or a resource; None means NoneResource().
        lease: seconds another process waits, after this one stops renewing
            (it died), before it may take the run over.
        force: take the run over even if another owner holds its lease; that
            owner raises RunOwnershipLost at its next checkpoint.
        strict: a finished call whose request no longer matches (the code
            changed) raises ReplayError naming it; with False it re-runs.

    Raises:
        RunConflict: a run of that name exists for another invokable state or input.
        RunInProgress: another owner holds the run's lease.
        RunOwnershipLost: another process took the run over while this one ran it.
        InvocationError: the run raised one (as :meth:`invoke`).
        UnsupportedOperation: the store's backend keeps no run index.
    """
    if not isinstance(invokable, InvokableBase):
        raise InvokableTypeError(f"run() expects an invokable, got {type(invokable).__qualname__}")
    if isinstance(invokable, AsyncInvokableBase):
        raise InvokableTypeError("run() runs sync invokables (call async ones inside one)")
    _check_lease(lease)
    store = Store.current()
    owner = _owner()
    with store.batch():
        if input is None:
            input_ref: Ref[Any] = store.commit(NoneResource())
        elif isinstance(input, Ref):
            input_ref = input
        elif isinstance(input, ResourceBase):
            input_ref = store.commit(input)
        else:
            raise InvokableTypeError(
                f"run() expects a Ref or a resource as input, got {type(input).__qualname__}"
            )
        invokable_ref = store.commit(invokable)
        request_ref = store.commit(Request(invokable_ref, input_ref))
        first = commit_in_flight(store, request_ref, invokable_ref, [])
        outcome, entry = store.runs.claim(
            name,
            request=request_ref.digest,
            owner=owner,
            lease=lease,
            force=force,
            head=first,
        )
    if outcome == "conflict":
        assert entry is not None
        raise RunConflict(
            f"Run {name!r} exists for another request (request {entry.request[:12]}, not "
            f"{request_ref.digest[:12]}: another invokable state or input); give this one "
            "another name, or delete that run"
        )
    if outcome in ("busy", "finished"):
        return _not_claimed(store, name, outcome, entry)
    assert entry is not None
    return _drive(store, name, owner, entry, invokable, input_ref, lease, strict, None)


def resume(
    name: str,
    *,
    answer: Any = None,
    force: bool = False,
    lease: float = 30.0,
    strict: bool = True,
) -> Invocation[Any, Any]:
    """Resumes the durable run ``name`` from the store alone, in any process.

    The invokable and its input are read from the run's record, so their
    types must be importable (registered) here. A finished call is reused, a
    call in flight at a crash re-runs; a run that raised re-runs the calls
    that raised; a run that is done returns its record.

    Args:
        name: the run's name.
        answer: for a run waiting on an InputRequest, the answer: a resource
            of the requested type, or a value its constructor takes.
        force, lease, strict: as for :func:`run`.

    Raises:
        NotFound: no run has that name.
        RunInProgress: another owner holds the run's lease.
        RunOwnershipLost: another process took the run over meanwhile.
        InvokableTypeError: ``answer`` given, but the run waits on no input,
            or the answer is not of the requested type.
    """
    _check_lease(lease)
    store = Store.current()
    head = store.runs.head(name)
    if head is None or store.runs.get(name) is None:
        raise NotFound(f"No run named {name!r} in {store!r}")
    override = None if answer is None else _answering(store, name, head, answer)
    # Read before claiming (a run's request never changes): a type this
    # process lacks fails here, leaving the run as it was.
    request = store.get(cast(Invocation[Any, Any], store.get(head)).request)
    invokable = store.get(request.invokable)
    owner = _owner()
    outcome, entry = store.runs.claim(
        name, request=None, owner=owner, lease=lease, force=force, reopen=_RESUMABLE
    )
    if outcome == "missing":
        raise NotFound(f"No run named {name!r} in {store!r}")
    if outcome in ("busy", "finished"):
        return _not_claimed(store, name, outcome, entry)
    assert entry is not None
    return _drive(store, name, owner, entry, invokable, request.input, lease, strict, override)


def _check_lease(lease: float) -> None:
    if isinstance(lease, bool) or not isinstance(lease, int | float) or not lease > 0:
        raise ValueError(f"lease must be a number of seconds > 0, got {lease!r}")


def _owner() -> str:
    """Who runs a run: host, process and a random id (never written into records)."""
    import socket  # (Only runs need them: `import enact` stays light.)
    import uuid

    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _not_claimed(
    store: Store, name: str, outcome: str, entry: RunEntry | None
) -> Invocation[Any, Any]:
    assert entry is not None
    if outcome == "busy":
        raise RunInProgress(
            f"Run {name!r} is running (owner {entry.owner}, lease for another "
            f"{max(0.0, entry.lease_until - entry.now):.1f} s): wait for it, or take it "
            "over with force=True, or --force (its owner then stops at its next checkpoint)"
        )
    return cast(Invocation[Any, Any], store.get(cast(Ref[Any], store.runs.head(name))))


def _answering(store: Store, name: str, head: Ref[Any], answer: Any) -> ExceptionOverride:
    """The exception_override that answers the InputRequest a run waits on."""
    recorded = store.load(head)
    raised: Ref[ExceptionResource] | None = store.load(recorded["response"])["raised"]
    request = None if raised is None else store.get(raised)
    if not isinstance(request, InputRequest):
        raise InvokableTypeError(f"Run {name!r} is not waiting for input: nothing to answer")
    value = answer
    if not isinstance(value, ResourceBase):
        try:
            value = request.requested_type(answer)  # type: ignore[call-arg]
        except (TypeError, ValueError) as e:
            raise InvokableTypeError(
                f"Cannot make the answer {answer!r} a {request.requested_type.__qualname__} "
                f"(what run {name!r} asks for): {e}"
            ) from e
    if not isinstance(value, request.requested_type):
        raise InvokableTypeError(
            f"Run {name!r} asks for a {request.requested_type.__qualname__}, "
            f"got {type(value).__qualname__}"
        )
    asked = raised

    def override(raised: Ref[ExceptionResource]) -> ResourceBase | None:
        return value if raised == asked else None

    return override


#: Seconds between two moves of a run's head while it runs, at least; and at least
#: this many times the last move took (rebuilding the record of the calls in flight
#: costs time with their number of children).
_HEAD_MIN_INTERVAL = 1.0
_HEAD_COST_FACTOR = 50
#: The head then moves once the calls finished since make a quarter of the top-level
#: call's children (so the records it writes stay in proportion to the run's), or after
#: this many seconds.
_HEAD_MAX_INTERVAL = 60.0


class _Run:
    """A durable run in progress in this process: what its checkpoints need.

    Each finished call is checkpointed as a step (see enact_store.RunStep),
    written with its objects and the steps logged since the last checkpoint
    (calls started, slots filled by reused or cached calls): a transaction
    whose size does not grow with the run's. The head (a record of the whole
    run, calls in flight included) is rebuilt and moved only now and then
    (see _HEAD_*), and when the run ends or stops; resuming applies the
    steps logged since to it (:func:`_apply_steps`).
    """

    def __init__(self, store: Store, name: str, owner: str, entry: RunEntry, lease: float) -> None:
        self.store = store
        self.runs = store.runs
        self.name = name
        self.owner = owner
        self.epoch = entry.epoch
        self.lease = lease
        self.calls_done = entry.calls_done
        self.holder: Frame | None = None
        self.lock = threading.Lock()
        # Steps logged since the last checkpoint, by path: (request, invocation,
        # started, finished); guarded by log_lock, taken with each slot filled.
        self.log_lock = threading.Lock()
        self.logged: dict[str, tuple[str | None, str | None, float | None, float | None]] = {}
        self.lost = False
        self.final = False
        self.stop = threading.Event()
        self.head_moved = monotonic()
        self.head_cost = 0.0
        self.head_width = 0
        self.since_head = 0

    def appended(self, parent: Frame, child: Any) -> int:
        """Fills the next slot of ``parent`` (in this run) with ``child`` and logs it."""
        with self.log_lock:
            children = parent.children
            children.append(child)
            index = len(children) - 1  # (Every append to this run's frames holds the lock.)
            prefix = _path(parent)
            path = f"{prefix}/{index}" if prefix else str(index)
            if isinstance(child, Frame):
                child.started = started = wall_time()
                self.logged[path] = (child.request_ref.digest, None, started, None)
            else:
                self.logged[path] = (None, child.digest, None, None)
        return index

    def finished(self, frame: Frame, ref: Ref[Any], error: BaseException | None) -> None:
        """Checkpoints the run after ``frame``'s call finished, recorded as ``ref``."""
        now = wall_time()
        started = getattr(frame, "started", now)
        path = _path(frame)
        with self.lock:
            if self.lost:
                if isinstance(error, RunOwnershipLost):
                    return  # Already raised; it is propagating through this call.
                raise self._lost()
            logged = self._take_logged()
            logged.pop(path, None)  # (Its start: replaced, and the finish comes last.)
            logged[path] = (frame.request_ref.digest, ref.digest, started, now)
            seq = self.calls_done + 1
            top = cast(Frame, self.holder).children[0]
            head: Ref[Any] | None = None
            state = "running"
            if not isinstance(top, Frame):
                head = top
                state = _final_state(self.store, head)
            elif self._head_due():
                moving = monotonic()
                head = in_flight_record(top)
                self.head_cost = monotonic() - moving
                self.head_width = len(top.children)
            done = self.runs.checkpoint(
                self.name,
                owner=self.owner,
                epoch=self.epoch,
                head=head,
                lease=self.lease,
                calls_done=seq,
                state=state,
                # The head, when it moves, has every step: only the times are kept.
                steps=_steps(logged, seq, times_only=head is not None),
            )
            if not done:
                self.lost = True
                raise self._lost()
            self.calls_done = seq
            self.since_head += 1
            if head is not None:
                self.head_moved = monotonic()
                self.since_head = 0
            self.final = state != "running"

    def _take_logged(self) -> dict[str, tuple[str | None, str | None, float | None, float | None]]:
        """The steps logged since the last checkpoint (the next ones start afresh)."""
        with self.log_lock:
            logged, self.logged = self.logged, {}
        return logged

    def _head_due(self) -> bool:
        elapsed = monotonic() - self.head_moved
        if elapsed < max(_HEAD_MIN_INTERVAL, _HEAD_COST_FACTOR * self.head_cost):
            return False
        return self.since_head * 4 >= self.head_width or elapsed >= _HEAD_MAX_INTERVAL

    def interrupted(self) -> None:
        """Marks the run interrupted (resumable at once), unless it ended or was lost.

        The head moves to the record of the calls finished and in flight.
        """
        with self.lock:
            if self.final or self.lost:
                return
            holder = self.holder
            top = None if holder is None or not holder.children else holder.children[0]
            head = in_flight_record(top) if isinstance(top, Frame) else None
            logged = self._take_logged()
            self.runs.checkpoint(
                self.name,
                owner=self.owner,
                epoch=self.epoch,
                head=head,
                lease=0.0,
                calls_done=self.calls_done,
                state="interrupted",
                steps=_steps(logged, self.calls_done, times_only=head is not None),
            )

    def _lost(self) -> RunOwnershipLost:
        return RunOwnershipLost(
            f"Run {self.name!r} was taken over by another process (force=True, or this "
            "one's lease lapsed): this process stops it, writing nothing more"
        )

    def heartbeat(self) -> None:
        """Renews the lease every lease/3 seconds until the run ends (a daemon thread)."""
        while not self.stop.wait(self.lease / 3):
            try:
                held = self.runs.heartbeat(
                    self.name, owner=self.owner, epoch=self.epoch, lease=self.lease
                )
            except Exception:  # A store that fails now may answer later.
                continue
            if not held:
                self.lost = True
                return


def _steps(
    logged: dict[str, tuple[str | None, str | None, float | None, float | None]],
    seq: int,
    *,
    times_only: bool,
) -> list[RunStep]:
    """The steps a checkpoint writes (``times_only``: the finished calls, for their times)."""
    return [
        RunStep(path, seq, request, invocation, started, finished)
        for path, (request, invocation, started, finished) in logged.items()
        if not times_only or finished is not None
    ]


def _path(frame: Frame) -> str:
    """A call's position from the top-level call: '' for it, '3/0' for a grandchild."""
    parts: list[str] = []
    while frame.parent is not None and frame.parent.parent is not None:
        parts.append(str(frame.index))
        frame = frame.parent
    return "/".join(reversed(parts))


class _InFlight:
    """A call in flight in a record being rebuilt from steps: its request and children."""

    __slots__ = ("children", "invokable", "request")

    def __init__(self, request: Ref[Any], invokable: Ref[Any] | None, children: list[Any]) -> None:
        self.request = request
        self.invokable = invokable
        self.children = children


def _apply_steps(store: Store, head: Ref[Any], steps: list[RunStep]) -> Ref[Any]:
    """The run's record after ``steps`` (each path's latest, by path), logged after ``head``.

    A started call takes its slot in flight (keeping the children its slot's
    record had for the same request: a replay reuses them); a finished or
    reused one fills its slot with its record. A step below a call that
    finished, after a slot nothing is known of, or naming an object the store
    lacks is passed over (its call then runs again).
    """
    root = _expand(store, store.load(head))
    assert root is not None  # (A head is the record of a call in flight.)
    for step in steps:
        if not step.path:
            continue  # The top-level call's own step: the head was final then.
        *above, last = (int(part) for part in step.path.split("/"))
        node: _InFlight | None = root
        for index in above:
            node = _child_in_flight(store, node, index) if node is not None else None
        if node is None or last > len(node.children):
            continue
        slot: Any
        if step.invocation is not None:
            slot = Ref.from_digest(step.invocation)
            if not store.has(slot):
                continue
        elif step.request is not None:
            request: Ref[Any] = Ref.from_digest(step.request)
            if not store.has(request):
                continue
            slot = _InFlight(request, None, [])
            if last < len(node.children):
                current = node.children[last]
                if isinstance(current, Ref):
                    current = _expand(store, store.load(current), finished_too=True)
                if current is not None and current.request.digest == step.request:
                    slot.children = current.children
        else:
            continue
        if last == len(node.children):
            node.children.append(slot)
        else:
            node.children[last] = slot
    return _commit_in_flight(store, root)


def _expand(store: Store, record: Any, *, finished_too: bool = False) -> _InFlight | None:
    """A record as a call in flight (None if it finished, unless ``finished_too``)."""
    response = store.load(record["response"])
    if not finished_too and (response["output"] is not None or response["raised"] is not None):
        return None
    return _InFlight(record["request"], response["invokable"], list(response["children"]))


def _child_in_flight(store: Store, node: _InFlight, index: int) -> _InFlight | None:
    if index >= len(node.children):
        return None
    child = node.children[index]
    if isinstance(child, _InFlight):
        return child
    expanded = _expand(store, store.load(child))
    if expanded is not None:
        node.children[index] = expanded
    return expanded


def _commit_in_flight(store: Store, node: _InFlight) -> Ref[Invocation[Any, Any]]:
    children = [
        _commit_in_flight(store, child) if isinstance(child, _InFlight) else child
        for child in node.children
    ]
    invokable = node.invokable
    if invokable is None:
        invokable = store.load(node.request)["invokable"]
    return commit_in_flight(store, node.request, invokable, children)


def _latest_record(store: Store, entry: RunEntry, head: Ref[Any]) -> Ref[Any] | None:
    """The run's head with the steps logged since it moved applied (their objects read
    back from the run's log first); None if none were."""
    steps = store.runs.steps(entry.name, entry.head_seq)
    if not steps:
        return None
    store.runs.recover_log(entry.name)
    return _apply_steps(store, head, steps)


def _final_state(store: Store, head: Ref[Any]) -> str:
    response = store.load(store.load(head)["response"])
    if response["output"] is not None:
        return "done"
    raised = response["raised"]
    kind = store.load(raised).type if raised is not None else None
    if isinstance(kind, type) and issubclass(kind, InputRequest):
        return "waiting_input"
    return "raised"


def _drive(
    store: Store,
    name: str,
    owner: str,
    entry: RunEntry,
    invokable: InvokableBase[Any, Any],
    input_ref: Ref[Any],
    lease: float,
    strict: bool,
    override: ExceptionOverride | None,
) -> Invocation[Any, Any]:
    """Runs a claimed run: the top-level call, replaying its head."""
    state = _Run(store, name, owner, entry, lease)
    heartbeat = threading.Thread(target=state.heartbeat, name=f"enact-run {name}", daemon=True)
    heartbeat.start()
    try:
        with store.batch():
            head = cast(Ref[Any], store.runs.head(name))
            latest = _latest_record(store, entry, head)
            # The calls logged since the head last moved: into the head first.
            if latest is not None and not store.runs.checkpoint(
                name,
                owner=owner,
                epoch=state.epoch,
                head=latest,
                lease=lease,
                calls_done=entry.calls_done,
            ):
                raise state._lost()
            head = latest or head
            recorded = cast(Invocation[Any, Any], store.get(head))
            opened: Any = open_invocation(
                store, invokable, input_ref, recorded, override, strict, False
            )
            if type(opened) is not tuple:
                # Entirely reused: the head was final already.
                record = cast(Invocation[Any, Any], opened)
                state.holder = None
                store.runs.checkpoint(
                    name,
                    owner=owner,
                    epoch=state.epoch,
                    head=store.commit(record),
                    lease=lease,
                    calls_done=state.calls_done,
                    state=_final_state(store, store.commit(record)),
                )
                return record
            frame, resource, error = opened
            opened = None
            frame.started = wall_time()
            holder = cast(Frame, frame.parent)
            state.holder = holder
            RUNS[holder] = state
            output: Any = None
            enter_invocation()
            try:
                if error is None:
                    token = set_frame(frame)
                    try:
                        output = invokable._call_with(resource)
                    except Exception as e:
                        error = e
                    finally:
                        reset_frame(token)
                return close_invocation(invokable, frame, resource, output, error, True)
            finally:
                error = None
                del RUNS[holder]
                leave_invocation()
    except BaseException:
        # KeyboardInterrupt, or a failure of the store: resumable at once.
        with contextlib.suppress(Exception):
            state.interrupted()
        raise
    finally:
        state.stop.set()
