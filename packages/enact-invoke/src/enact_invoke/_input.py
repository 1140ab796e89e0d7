"""Human input: pausing an invocation with a request and continuing it with an answer."""

from __future__ import annotations

import dataclasses
from typing import Any

from enact_invoke._engine import current_frame, in_tracked_call
from enact_invoke._exceptions import ExceptionResource, InvocationError
from enact_invoke._invokable import Invokable
from enact_invoke._records import Invocation
from enact_resource import FieldValue, NoneResource, ResourceBase, register, set_type_name
from enact_store import Ref, commit

__all__ = [
    "InputRequest",
    "InputRequestOutsideInvocation",
    "InputRequired",
    "RequestInput",
    "RequestedTypeUndetermined",
    "request_input",
]


class InputRequestOutsideInvocation(InvocationError):
    """Input was requested outside of any tracked invocation."""


class RequestedTypeUndetermined(InvocationError):
    """A RequestInput invokable was called without a requested type."""


@dataclasses.dataclass
class InputRequest(ExceptionResource):
    """Raised to pause an invocation until a person (or system) provides a value.

    Attributes:
        invokable: the :class:`RequestInput` invokable that asked.
        input: the resource the input is requested for (``NoneResource`` if none).
        requested_type: the resource type of the answer.
        context: a description of what is asked, for the person answering.
    """

    invokable: Ref[RequestInput]
    input: Ref[ResourceBase]
    requested_type: type[ResourceBase]
    context: FieldValue

    def continue_invocation(
        self, invocation: Invocation[Any, Any], value: ResourceBase
    ) -> Invocation[Any, Any]:
        """Replays ``invocation`` with this request answered by ``value``.

        Raises:
            InvokableTypeError: ``value`` is not of the requested type.
        """
        ref = commit(self)

        def answer(raised: Ref[ExceptionResource]) -> ResourceBase | None:
            return value if raised == ref else None

        return invocation.replay(exception_override=answer)

    async def continue_invocation_async(
        self, invocation: Invocation[Any, Any], value: ResourceBase
    ) -> Invocation[Any, Any]:
        """Like :meth:`continue_invocation`, awaited (``Invocation.replay_async``).

        To answer several requests in one replay (say, of calls made
        concurrently), replay with an ``exception_override`` that maps each
        request, by its ref, to its answer::

            answers = {enact.commit(request): answer for request, answer in ...}
            await invocation.replay_async(exception_override=answers.get)
        """
        ref = commit(self)

        def answer(raised: Ref[ExceptionResource]) -> ResourceBase | None:
            return value if raised == ref else None

        return await invocation.replay_async(exception_override=answer)


#: The name the tutorial's prose uses.
InputRequired = InputRequest


@dataclasses.dataclass
class RequestInput(Invokable[ResourceBase, ResourceBase]):
    """An invokable that asks for input: calling it raises :class:`InputRequest`.

    Its output type is ``requested_type``; the answer given through
    ``continue_invocation`` becomes its output on replay.
    """

    requested_type: type[ResourceBase] | None = None
    context: FieldValue = None

    def get_output_type(self) -> type[ResourceBase] | None:
        return self.requested_type

    def call(self, resource: ResourceBase) -> ResourceBase:
        # Run untracked (also when a ReplayContext outside any tracked call
        # must run it): nothing would record the request.
        if not in_tracked_call():
            raise InputRequestOutsideInvocation(
                "Input can only be requested inside a tracked invocation (see invoke())"
            )
        if self.requested_type is None:
            raise RequestedTypeUndetermined("RequestInput needs a requested_type")
        raise InputRequest(
            invokable=commit(self),
            input=commit(resource),
            requested_type=self.requested_type,
            context=self.context,
        )


def request_input(
    requested_type: type[ResourceBase],
    for_resource: ResourceBase | None = None,
    context: FieldValue = None,
) -> Any:
    """Asks for a value of ``requested_type`` from outside the program.

    Inside a tracked invocation this raises :class:`InputRequest`, which is
    recorded; answer it with ``InputRequest.continue_invocation``, which
    replays the invocation so that this call returns the answer.

    Inside a :class:`ReplayContext` entered outside any tracked invocation,
    a recorded answer is reused (or given by its ``exception_override``).

    Raises:
        InputRequestOutsideInvocation: no tracked invocation is running (and
            no recorded answer is reused).
    """
    if current_frame() is None:
        raise InputRequestOutsideInvocation(
            "request_input() can only be called inside a tracked invocation (see invoke())"
        )
    return RequestInput(requested_type, context)(
        for_resource if for_resource is not None else NoneResource()
    )


for _cls in (InputRequestOutsideInvocation, RequestedTypeUndetermined, InputRequest, RequestInput):
    set_type_name(_cls, f"enact.invocations.{_cls.__name__}")
    register(_cls)
