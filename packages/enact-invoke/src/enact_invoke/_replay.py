"""ReplayContext: recorded invocations that the calls of a block are matched against."""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import Token
from typing import Any, cast

from enact_invoke._engine import (
    Frame,
    Guide,
    ReplayFrame,
    get_frame,
    new_frame,
    reset_frame,
    set_frame,
)
from enact_invoke._records import ExceptionOverride, Invocation
from enact_resource import ResourceBase
from enact_store import Ref, Store

__all__ = ["ReplayContext"]


class ReplayContext(Guide):
    """Recorded invocations that new calls are matched against.

    Replay makes one for each call it re-runs, from the call's recorded
    children. Used directly as a context manager, it makes the calls in its
    block match the given recorded invocations: a call that matches one with
    an output is not run (its recorded output is returned and the
    invokable's recorded state after the call applied); a call that matches
    one without an output runs, its own calls matched against that record's
    children. Calls after the last recorded invocation simply run::

        with ReplayContext([earlier]):
            out = chain(arg)  # earlier's output, if earlier was chain(arg)

        with ReplayContext.from_invocation(earlier):
            summary = summarize(text)  # reused if earlier called summarize(text)

    A call matches the next recorded invocation not yet matched if their
    requests (invokable state and input) have the same digest; else the
    earliest one not yet matched with the same request digest, so that calls
    made concurrently match whatever order they start in; else it matches
    nothing (see ``strict``).

    Inside a tracked call, the calls in the block are recorded as usual (a
    reused call as the very invocation given). Outside any tracked call,
    nothing is recorded and nothing is written to the store: a reused call
    reads its recorded output from the active store, and a call that must run
    runs as an untracked call does (still guided by its record's children, if
    it has a record).

    Args:
        subinvocations: the recorded invocations, in call order, as refs to
            them or as :class:`Invocation` resources. Inside a tracked call,
            invocations given as resources are committed (the new record
            refers to the ones reused); outside, they are only read.
        exception_override: offered each recorded exception raised in the
            frame that raised it; a resource it returns becomes that call's
            output.
        strict: whether a call that matches no recorded invocation not yet
            matched raises :class:`ReplayError`; with False the call runs
            (untracked outside a tracked call).
        children: the name of ``subinvocations`` in enact-invoke 0.1.0.

    Raises:
        TypeError: ``subinvocations`` is not a sequence of invocations and
            refs, or ``exception_override`` is not callable.
        NoActiveStoreError: entered outside any tracked call with no active
            store (the records are read from it).
    """

    __slots__ = ("_given", "_saved", "_user")

    # The invocations given as resources, by position: committed when the
    # context is entered in a tracked call (None once done, or if none).
    _given: dict[int, Invocation[Any, Any]] | None
    _saved: list[tuple[Frame, Guide | None, Token[Frame | None] | None]]
    # Made by the user (not by replay): its refs are refreshed when entered.
    _user: bool

    def __init__(
        self,
        subinvocations: Iterable[Ref[Invocation[Any, Any]] | Invocation[Any, Any]] = (),
        exception_override: ExceptionOverride | None = None,
        strict: bool = True,
        *,
        children: Iterable[Ref[Invocation[Any, Any]] | Invocation[Any, Any]] | None = None,
    ) -> None:
        if children is not None:
            if subinvocations != ():
                raise TypeError(
                    "ReplayContext takes subinvocations or children (its former name), not both"
                )
            subinvocations = children
        if isinstance(subinvocations, (ResourceBase, str, bytes)):
            raise TypeError(
                "ReplayContext expects a sequence of recorded invocations or refs to them, "
                f"got {type(subinvocations).__qualname__} (wrap a single one in a list)"
            )
        refs: list[Ref[Invocation[Any, Any]]] = []
        given: dict[int, Invocation[Any, Any]] = {}
        for position, item in enumerate(subinvocations):
            if isinstance(item, Ref):
                refs.append(item)
            elif isinstance(item, Invocation):
                # A ref that carries the invocation: read without the store.
                refs.append(Ref.pack(item).ref)
                given[position] = item
            else:
                raise TypeError(
                    "ReplayContext expects recorded invocations or refs to them, got "
                    f"{type(item).__qualname__} at position {position}"
                )
        if exception_override is not None and not callable(exception_override):
            raise TypeError(
                "exception_override must be a function of a recorded exception's ref, "
                f"got {type(exception_override).__qualname__}"
            )
        self._children = refs
        self._position = 0
        self._taken = None
        self._by_request = None
        self._given = given or None
        self._saved = []
        self._user = True
        self.exception_override = exception_override
        self.strict = strict

    @classmethod
    def _guide(
        cls,
        children: Any,
        exception_override: ExceptionOverride | None,
        strict: bool,
    ) -> ReplayContext:
        context = cast(ReplayContext, super()._guide(children, exception_override, strict))
        context._given = None
        context._saved = []
        context._user = False
        return context

    def __enter__(self) -> ReplayContext:
        frame = get_frame()
        if frame is None:
            # Outside any tracked call: a frame that matches calls against this
            # context and records nothing.
            frame = new_frame(ReplayFrame, Store.current(), self)
            self._saved.append((frame, None, set_frame(frame)))
            return self
        if self._given is not None and frame.tracked:
            # A reused invocation becomes a child in the record: store it.
            children = cast(list[Ref[Invocation[Any, Any]]], self._children)
            for position, invocation in self._given.items():
                children[position] = frame.store.commit(invocation)
            self._given = None
        if frame.tracked and self._user:
            # Recorded calls this replay may reuse: kept by a concurrent gc.
            frame.store.refresh(self._children)
        self._saved.append((frame, frame.replay, None))
        frame.replay = self
        return self

    def __exit__(self, *exc_info: object) -> None:
        frame, previous, token = self._saved.pop()
        if token is not None:
            reset_frame(token)
        else:
            frame.replay = previous

    @classmethod
    def from_invocation(
        cls,
        invocation: Invocation[Any, Any],
        exception_override: ExceptionOverride | None = None,
        strict: bool = True,
    ) -> ReplayContext:
        """Returns a context that guides a re-run of ``invocation``'s call: its
        recorded children."""
        return cls._guide(invocation.response().children, exception_override, strict)

    def peek(self) -> Ref[Invocation[Any, Any]] | None:
        """Returns the first recorded invocation not yet matched, or None."""
        position = self._next()
        if position < len(self._children):
            return self._children[position]
        return None

    def advance(self) -> None:
        """Marks the first recorded invocation not yet matched as matched."""
        self._position = self._next() + 1

    def remaining(self) -> int:
        """Returns how many recorded invocations are not yet matched."""
        position = self._next()
        return len(self._children) - position - len(self._taken or ())
