"""The records of a tracked call: Request, Response and Invocation."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from enact_invoke._exceptions import ExceptionResource, NoOutputError
from enact_resource import Resource, ResourceBase, register, set_type_name
from enact_store import Ref

if TYPE_CHECKING:
    from enact_invoke._invokable import InvokableBase

__all__ = ["ExceptionOverride", "Invocation", "Request", "Response"]

I = TypeVar("I", bound=ResourceBase)  # noqa: E741 - the conventional name for input types
O = TypeVar("O", bound=ResourceBase)  # noqa: E741

#: Called during replay with a ref to an exception recorded in the frame that
#: raised it; a resource returned is used as that call's output instead.
ExceptionOverride = Callable[[Ref[ExceptionResource]], ResourceBase | None]


@dataclasses.dataclass(slots=True)
class Request(Resource, Generic[I, O]):
    """What was called: the invokable (its state before the call) and the input."""

    invokable: Ref[InvokableBase[I, O]]
    input: Ref[I]


@dataclasses.dataclass(slots=True)
class Response(Resource, Generic[I, O]):
    """What happened: the invokable after the call, the output or the exception.

    ``raised_here`` is true only in the frame where the exception started;
    ``children`` are the tracked calls made during the call, in the order they
    started (a call still running when the call returned: without output).
    """

    invokable: Ref[InvokableBase[I, O]]
    output: Ref[O] | None
    raised: Ref[ExceptionResource] | None
    raised_here: bool
    children: list[Ref[Invocation[Any, Any]]]


@dataclasses.dataclass(slots=True)
class Invocation(Resource, Generic[I, O]):
    """The record of one tracked call: a request and its response."""

    request: Ref[Request[I, O]]
    response: Ref[Response[I, O]]

    def successful(self) -> bool:
        """Returns whether the call produced an output."""
        return self.response().output is not None

    def get_output(self) -> O:
        """Returns the output resource.

        Raises:
            NoOutputError: the invocation has no output.
        """
        response = self.response()
        if response.output is None:
            raised = response.raised
            why = f"it raised {raised()!r}" if raised is not None else "its output was removed"
            raise NoOutputError(f"The invocation has no output: {why}")
        return response.output()

    def get_raised(self) -> ExceptionResource | None:
        """Returns the recorded exception, or None if the call did not raise."""
        raised = self.response().raised
        return None if raised is None else raised()

    def get_raised_here(self) -> bool:
        """Returns whether the exception started in this very call."""
        return self.response().raised_here

    def get_children(self) -> list[Invocation[Any, Any]]:
        """Returns the child invocations, in the order the calls started."""
        return [child() for child in self.response().children]

    def replay(
        self, exception_override: ExceptionOverride | None = None, strict: bool = True
    ) -> Invocation[I, O]:
        """Re-invokes the recorded invokable on the recorded input, reusing recorded outputs.

        Calls that have a recorded output are not run again: their output is
        returned and the invokable's recorded post-call state applied. Calls
        without an output run again, guided by their own recorded children.

        Args:
            exception_override: offered each recorded exception raised in the
                frame being replayed; a resource it returns becomes that
                call's output.
            strict: raise :class:`ReplayError` when a call does not match the
                next recorded one; with False, such calls simply run.
        """
        request = self.request()
        invokable: InvokableBase[I, O] = request.invokable()
        return invokable.invoke(
            request.input,
            replay_from=self,
            exception_override=exception_override,
            strict=strict,
        )

    async def replay_async(
        self, exception_override: ExceptionOverride | None = None, strict: bool = True
    ) -> Invocation[I, O]:
        """Like :meth:`replay`, awaited (see ``InvokableBase.invoke_async``).

        Concurrent calls are matched by request digest when they start in
        another order than recorded, so a replay of an unchanged concurrent
        run reuses every recorded call.
        """
        request = self.request()
        invokable: InvokableBase[I, O] = request.invokable()
        return await invokable.invoke_async(
            request.input,
            replay_from=self,
            exception_override=exception_override,
            strict=strict,
        )


for _cls in (Request, Response, Invocation):
    set_type_name(_cls, f"enact.invocations.{_cls.__name__}")
    register(_cls)
