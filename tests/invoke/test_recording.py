"""Tracked invocations: what is recorded and what is raised (SPEC §5)."""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import enact

RUNS: collections.Counter[str] = collections.Counter()


@pytest.fixture(autouse=True)
def _reset_runs() -> Iterator[None]:
    RUNS.clear()
    yield
    RUNS.clear()


@pytest.fixture
def store() -> Iterator[enact.Store]:
    with enact.Store() as active:
        yield active


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class RecEcho(enact.Invokable):
    prefix: str = ""

    def call(self, text: enact.Str) -> enact.Str:
        RUNS["echo"] += 1
        return enact.Str(self.prefix + text)


@enact.register
@dataclasses.dataclass
class RecWords(enact.Resource):
    words: list[str]


@enact.typed_invokable(RecWords, enact.Str)
@dataclasses.dataclass
class RecJoin(enact.Invokable):
    """Echoes each word through a child call, in order."""

    def call(self, words: RecWords) -> enact.Str:
        echo = RecEcho(">")
        return enact.Str(" ".join(echo(word) for word in words.words))


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class RecFailsNatively(enact.Invokable):
    def call(self, text: enact.Str) -> enact.Str:
        raise ValueError(f"bad value {text}")


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class RecCatches(enact.Invokable):
    """Catches its child's ValueError and succeeds."""

    def call(self, text: enact.Str) -> enact.Str:
        try:
            return RecFailsNatively()(text)
        except ValueError as e:
            return enact.Str(f"caught: {e}")


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class RecPassesOn(enact.Invokable):
    """Lets its child's exception propagate."""

    def call(self, text: enact.Str) -> enact.Str:
        RecEcho()(text)
        return RecFailsNatively()(text)


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class RecOuter(enact.Invokable):
    def call(self, text: enact.Str) -> enact.Str:
        return RecPassesOn()(text)


class RecPlainError(enact.ExceptionResource):
    pass


@dataclasses.dataclass
class RecFieldError(enact.ExceptionResource):
    code: int
    reason: str


enact.register(RecPlainError)
enact.register(RecFieldError)


@enact.typed_invokable(enact.Int, enact.Str)
@dataclasses.dataclass
class RecRaisesResource(enact.Invokable):
    def call(self, which: enact.Int) -> enact.Str:
        if which == 0:
            raise RecPlainError("plain", 7)
        raise RecFieldError(code=int(which), reason="field")


@enact.typed_invokable(enact.Int, enact.Str)
@dataclasses.dataclass
class RecParentOfResourceError(enact.Invokable):
    def call(self, which: enact.Int) -> enact.Str:
        return RecRaisesResource()(which)


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class RecReturnsInt(enact.Invokable):
    def call(self, text: enact.Str) -> enact.Int:
        return enact.Int(len(text))


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class RecReturnsPlain(enact.Invokable):
    def call(self, text: enact.Str) -> str:
        return str(text)


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class RecCallsBadChild(enact.Invokable):
    def call(self, text: enact.Str) -> enact.Str:
        return RecReturnsInt()(text)


@enact.register
@dataclasses.dataclass
class RecBox(enact.Resource):
    items: list[int]


@enact.typed_invokable(RecBox, enact.Int)
@dataclasses.dataclass
class RecMutatesInput(enact.Invokable):
    def call(self, box: RecBox) -> enact.Int:
        box.items.append(99)
        return enact.Int(len(box.items))


@enact.typed_invokable(RecBox, enact.Int)
@dataclasses.dataclass
class RecCallsMutator(enact.Invokable):
    def call(self, box: RecBox) -> enact.Int:
        return RecMutatesInput()(RecBox(list(box.items)))


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class RecInvokesInside(enact.Invokable):
    """Starts a separate tracked invocation during its call; returns its digest."""

    def call(self, text: enact.Str) -> enact.Str:
        RecEcho("child:")(text)
        inner = RecEcho("inner:").invoke(enact.Str(text))
        return enact.Str(enact.commit(inner).digest)


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class RecInvokesThenCalls(enact.Invokable):
    def call(self, text: enact.Str) -> enact.Str:
        RecEcho("inner:").invoke(enact.Str(text))
        return RecEcho("after:")(text)


@enact.typed_invokable(enact.NoneResource, enact.Str)
@dataclasses.dataclass
class RecRawArgumentCaller(enact.Invokable):
    def call(self) -> enact.Str:
        return RecEcho("raw:")("World")


@enact.typed_invokable(enact.NoneResource, enact.Str)
@dataclasses.dataclass
class RecNoInput(enact.Invokable):
    def call(self) -> enact.Str:
        return enact.Str("nothing in")


@enact.typed_invokable(enact.NoneResource, enact.NoneResource)
@dataclasses.dataclass
class RecReturnsNone(enact.Invokable):
    def call(self) -> None:
        RUNS["none"] += 1


# --- Records of successful calls. ---


def test_invoke_records_request_response_and_output(store: enact.Store) -> None:
    input_ref = enact.commit(enact.Str("World"))
    invocation = RecEcho("Hi ").invoke(input_ref)
    request = invocation.request()
    response = invocation.response()
    assert request.invokable() == RecEcho("Hi ")
    assert request.input == input_ref
    assert response.invokable() == RecEcho("Hi ")
    assert response.output() == "Hi World"
    assert response.raised is None
    assert response.raised_here is False
    assert response.children == []


def test_invoke_commits_a_resource_given_instead_of_a_ref(store: enact.Store) -> None:
    invocation = RecEcho().invoke(enact.Str("direct"))
    assert invocation.request().input == enact.commit(enact.Str("direct"))
    assert invocation.get_output() == "direct"


def test_invoke_without_argument_uses_a_committed_none_resource(store: enact.Store) -> None:
    invocation = RecNoInput().invoke()
    assert invocation.request().input == enact.commit(enact.NoneResource())
    assert invocation.get_output() == "nothing in"


def test_returning_none_records_a_none_resource_output(store: enact.Store) -> None:
    invocation = RecReturnsNone().invoke()
    assert invocation.successful()
    assert isinstance(invocation.get_output(), enact.NoneResource)


def test_children_are_recorded_in_call_order(store: enact.Store) -> None:
    invocation = RecJoin().invoke(RecWords(["b", "a", "c", "a"]))
    assert invocation.get_output() == ">b >a >c >a"
    children = invocation.get_children()
    assert [child.request().input() for child in children] == ["b", "a", "c", "a"]
    assert [child.get_output() for child in children] == [">b", ">a", ">c", ">a"]
    assert all(child.request().invokable() == RecEcho(">") for child in children)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.text(max_size=5), max_size=8))
def test_children_order_matches_calls_for_any_words(words: list[str]) -> None:
    with enact.Store():
        invocation = RecJoin().invoke(RecWords(words))
        assert [child.request().input() for child in invocation.get_children()] == words


def test_raw_argument_of_a_tracked_call_is_recorded_as_the_input_type(
    store: enact.Store,
) -> None:
    invocation = RecRawArgumentCaller().invoke()
    (child,) = invocation.get_children()
    recorded_input = child.request().input()
    assert type(recorded_input) is enact.Str
    assert recorded_input == "World"
    assert invocation.get_output() == "raw:World"


def test_invoke_rejects_an_argument_that_is_not_a_resource(store: enact.Store) -> None:
    with pytest.raises(enact.InvokableTypeError):
        RecEcho().invoke("World")  # type: ignore[arg-type]


def test_identical_invocations_have_identical_digests(store: enact.Store) -> None:
    first = RecJoin().invoke(RecWords(["a", "b"]))
    second = RecJoin().invoke(RecWords(["a", "b"]))
    assert enact.commit(first) == enact.commit(second)


def test_helpers_of_a_successful_invocation(store: enact.Store) -> None:
    invocation = RecJoin().invoke(RecWords(["x", "y"]))
    assert invocation.successful() is True
    assert invocation.get_output() == ">x >y"
    assert invocation.get_raised() is None
    assert invocation.get_raised_here() is False
    assert invocation.get_children() == [ref() for ref in invocation.response().children]
    assert len(invocation.get_children()) == 2


# --- Exceptions. ---


def test_raised_here_is_true_only_in_the_originating_frame(store: enact.Store) -> None:
    invocation = RecOuter().invoke(enact.Str("v"))
    assert not invocation.successful()
    assert invocation.get_raised_here() is False
    (middle,) = invocation.get_children()
    assert middle.get_raised_here() is False
    echo, failing = middle.get_children()
    assert echo.successful()
    assert echo.get_raised_here() is False
    assert failing.get_raised_here() is True
    # Every frame the exception passed through records the very same exception.
    raised = failing.response().raised
    assert middle.response().raised == raised
    assert invocation.response().raised == raised


def test_parent_can_catch_a_childs_native_value_error(store: enact.Store) -> None:
    invocation = RecCatches().invoke(enact.Str("v"))
    assert invocation.successful()
    assert invocation.get_output() == "caught: bad value v"
    assert invocation.get_raised() is None
    (child,) = invocation.get_children()
    assert not child.successful()
    assert child.get_raised_here() is True
    assert isinstance(child.get_raised(), enact.WrappedException)


def test_non_resource_exception_is_recorded_as_wrapped_traceback(store: enact.Store) -> None:
    invocation = RecFailsNatively().invoke(enact.Str("boom"))
    raised = invocation.get_raised()
    assert type(raised) is enact.WrappedException
    text = str(raised)
    assert "Traceback" in text
    assert "ValueError: bad value boom" in text
    assert invocation.get_raised_here() is True


def test_non_invocation_error_at_top_level_is_only_recorded(store: enact.Store) -> None:
    invocation = RecOuter().invoke(enact.Str("v"))  # raise_on_invocation_error defaults to True
    assert isinstance(invocation.get_raised(), enact.WrappedException)


def test_plain_exception_resource_is_recorded_as_itself(store: enact.Store) -> None:
    invocation = RecRaisesResource().invoke(enact.Int(0))
    raised = invocation.get_raised()
    assert type(raised) is RecPlainError
    assert raised == RecPlainError("plain", 7)
    assert raised.args == ("plain", 7)


def test_dataclass_exception_resource_is_recorded_as_itself(store: enact.Store) -> None:
    invocation = RecParentOfResourceError().invoke(enact.Int(5))
    raised = invocation.get_raised()
    assert type(raised) is RecFieldError
    assert (raised.code, raised.reason) == (5, "field")
    (child,) = invocation.get_children()
    assert child.get_raised() == raised
    assert child.get_raised_here() is True
    assert invocation.get_raised_here() is False


def test_get_output_of_a_failed_invocation_raises_no_output_error(store: enact.Store) -> None:
    invocation = RecFailsNatively().invoke(enact.Str("x"))
    assert invocation.successful() is False
    with pytest.raises(enact.NoOutputError):
        invocation.get_output()


def test_get_output_after_output_removed_raises_no_output_error(store: enact.Store) -> None:
    invocation = RecEcho().invoke(enact.Str("x"))
    with invocation.response.modify() as response:
        response.output = None
    with pytest.raises(enact.NoOutputError):
        invocation.get_output()


# --- InvocationErrors at top level. ---


def test_invoke_raises_on_wrong_input_type(store: enact.Store) -> None:
    with pytest.raises(enact.InvokableTypeError):
        RecEcho().invoke(enact.Int(3))


def test_invoke_records_wrong_input_type_when_not_raising(store: enact.Store) -> None:
    invocation = RecEcho().invoke(enact.Int(3), raise_on_invocation_error=False)
    assert isinstance(invocation.get_raised(), enact.InvokableTypeError)
    assert invocation.get_raised_here() is True
    assert RUNS["echo"] == 0


def test_invoke_raises_on_wrong_output_type(store: enact.Store) -> None:
    with pytest.raises(enact.InvokableTypeError):
        RecReturnsInt().invoke(enact.Str("abc"))


def test_invoke_records_wrong_output_type_when_not_raising(store: enact.Store) -> None:
    invocation = RecReturnsInt().invoke(enact.Str("abc"), raise_on_invocation_error=False)
    assert not invocation.successful()
    assert isinstance(invocation.get_raised(), enact.InvokableTypeError)
    assert invocation.get_raised_here() is True


def test_invoke_raises_on_non_resource_return(store: enact.Store) -> None:
    with pytest.raises(enact.InvokableTypeError, match="not a resource"):
        RecReturnsPlain().invoke(enact.Str("abc"))


def test_invoke_records_non_resource_return_when_not_raising(store: enact.Store) -> None:
    invocation = RecReturnsPlain().invoke(enact.Str("abc"), raise_on_invocation_error=False)
    assert isinstance(invocation.get_raised(), enact.InvokableTypeError)


def test_childs_wrong_output_type_is_raised_at_top_level(store: enact.Store) -> None:
    with pytest.raises(enact.InvokableTypeError):
        RecCallsBadChild().invoke(enact.Str("abc"))


def test_childs_wrong_output_type_is_recorded_in_the_child(store: enact.Store) -> None:
    invocation = RecCallsBadChild().invoke(enact.Str("abc"), raise_on_invocation_error=False)
    assert invocation.get_raised_here() is False
    (child,) = invocation.get_children()
    assert isinstance(child.get_raised(), enact.InvokableTypeError)
    assert child.get_raised_here() is True


def test_mutating_the_input_raises_input_changed(store: enact.Store) -> None:
    with pytest.raises(enact.InputChanged):
        RecMutatesInput().invoke(RecBox([1]))


def test_mutating_the_input_is_recorded_when_not_raising(store: enact.Store) -> None:
    invocation = RecMutatesInput().invoke(RecBox([1]), raise_on_invocation_error=False)
    assert isinstance(invocation.get_raised(), enact.InputChanged)
    assert invocation.get_raised_here() is True


def test_child_mutating_its_input_raises_input_changed(store: enact.Store) -> None:
    with pytest.raises(enact.InputChanged):
        RecCallsMutator().invoke(RecBox([1]))
    invocation = RecCallsMutator().invoke(RecBox([1]), raise_on_invocation_error=False)
    (child,) = invocation.get_children()
    assert isinstance(child.get_raised(), enact.InputChanged)
    assert child.get_raised_here() is True


# --- Nested invoke and untracked calls. ---


def test_invoke_inside_a_call_is_a_separate_top_level_record(store: enact.Store) -> None:
    invocation = RecInvokesInside().invoke(enact.Str("x"))
    children = invocation.get_children()
    assert [child.request().invokable() for child in children] == [RecEcho("child:")]
    inner = enact.Ref(str(invocation.get_output()))()
    assert isinstance(inner, enact.Invocation)
    assert inner.request().invokable() == RecEcho("inner:")
    assert inner.get_output() == "inner:x"
    assert inner.get_children() == []


def test_calls_after_an_inner_invoke_are_children_of_the_outer(store: enact.Store) -> None:
    invocation = RecInvokesThenCalls().invoke(enact.Str("x"))
    assert invocation.get_output() == "after:x"
    assert [child.request().invokable() for child in invocation.get_children()] == [
        RecEcho("after:")
    ]


def test_call_in_an_active_store_outside_invocation_records_nothing() -> None:
    backend = enact.InMemoryBackend()
    with enact.Store(backend):
        assert RecJoin()(RecWords(["a"])) == ">a"
    assert list(backend.iter_digests()) == []
    assert RUNS["echo"] == 1
