"""What a ReplayError says: which is the record and which the new call, where, and
what differs, in under 2 KiB whatever the size of the data (issue 11 item 13)."""

from __future__ import annotations

import collections
import dataclasses
import traceback
from collections.abc import Iterator
from typing import Any

import pytest

import enact

#: Each run of ErrProgram makes its child from the next of these.
NEXT: collections.deque[Any] = collections.deque()
LIMIT = 2048


@pytest.fixture(autouse=True)
def _reset() -> None:
    NEXT.clear()


@pytest.fixture
def store() -> Iterator[enact.Store]:
    with enact.Store() as active:
        yield active


@enact.register
@dataclasses.dataclass
class ErrOptions(enact.Resource):
    style: str
    tags: list[str]


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class ErrLlm(enact.Invokable):
    prompt: str
    temperature: float = 0.5
    options: ErrOptions = dataclasses.field(default_factory=lambda: ErrOptions("plain", []))

    def call(self, text: enact.Str) -> enact.Str:
        return enact.Str(f"{self.prompt[:8]} {text[:8]}")


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class ErrOtherLlm(ErrLlm):
    pass


@enact.typed_invokable(enact.Str, enact.Str)
@dataclasses.dataclass
class ErrProgram(enact.Invokable):
    """A first child that always matches, then one made from NEXT (not replayable)."""

    def call(self, text: enact.Str) -> enact.Str:
        ErrLlm("setup")(text)
        make_child, child_input = NEXT.popleft()
        return make_child()(child_input if child_input is not None else text)


def _replay_error(first: tuple[Any, Any], second: tuple[Any, Any], text: str = "x") -> Exception:
    NEXT.extend([first, second])
    invocation = ErrProgram().invoke(enact.Str(text))
    with invocation.response.modify() as response:
        response.output = None
    with pytest.raises(enact.ReplayError) as raised:
        invocation.replay()
    return raised.value


def _shown(error: BaseException) -> str:
    """The message as a traceback shows it: type, message and notes."""
    return "".join(traceback.format_exception_only(error))


def test_it_says_which_is_the_record_and_which_the_new_call(store: enact.Store) -> None:
    error = _replay_error((lambda: ErrLlm("first"), None), (lambda: ErrLlm("second"), None))
    shown = _shown(error)
    assert str(error).startswith("Expected invocation ErrLlm(prompt='second'")  # as the original
    assert '"Expected" is the new call, "got" the record' in shown
    assert "Recorded child 1 (ErrLlm)" in shown  # its position among the children
    assert "  invokable.prompt\n    recorded: 'first'\n    new call: 'second'\n" in shown
    assert "temperature" not in shown.split("Differences:")[1]  # only what differs


def test_it_names_a_changed_input(store: enact.Store) -> None:
    error = _replay_error(
        (lambda: ErrLlm("same"), enact.Str("old input")),
        (lambda: ErrLlm("same"), enact.Str("new input")),
    )
    assert "  input\n    recorded: 'old input'\n    new call: 'new input'\n" in _shown(error)


def test_it_names_both_invokables_when_their_types_differ(store: enact.Store) -> None:
    error = _replay_error((lambda: ErrLlm("same"), None), (lambda: ErrOtherLlm("same"), None))
    shown = _shown(error)
    assert "Recorded child 1 (recorded ErrLlm, new ErrOtherLlm)" in shown
    assert "  invokable\n    recorded: ErrLlm\n    new call: ErrOtherLlm\n" in shown


def test_it_follows_nested_fields_and_lists(store: enact.Store) -> None:
    error = _replay_error(
        (lambda: ErrLlm("same", options=ErrOptions("plain", ["a", "b"])), None),
        (lambda: ErrLlm("same", options=ErrOptions("plain", ["a", "c"])), None),
    )
    assert "  invokable.options.tags[1]\n    recorded: 'b'\n    new call: 'c'\n" in _shown(error)


def test_it_stays_under_2_kib_for_a_16_kib_prompt_and_shows_where_it_differs(
    store: enact.Store,
) -> None:
    prompt = "p" * 16_384
    error = _replay_error(
        (lambda: ErrLlm(prompt + "old"), None),
        (lambda: ErrLlm(prompt + "new"), None),
        text="t" * 16_384,
    )
    shown = _shown(error)
    assert len(shown.encode()) < LIMIT
    assert "old'" in shown.split("recorded:")[1].splitlines()[0]  # the differing end
    assert "new'" in shown.split("new call:")[1].splitlines()[0]


def test_it_stays_under_2_kib_when_many_long_fields_differ(store: enact.Store) -> None:
    long_tags = [f"{'tag' * 200}{i}" for i in range(50)]
    error = _replay_error(
        (lambda: ErrLlm("a" * 5000, 0.1, ErrOptions("b" * 5000, long_tags)), None),
        (lambda: ErrLlm("c" * 5000, 0.9, ErrOptions("d" * 5000, long_tags[::-1])), None),
        text="t" * 5000,
    )
    shown = _shown(error)
    assert len(shown.encode()) < LIMIT
    assert "... and " in shown  # more differences than it lists


def test_a_recorded_replay_error_is_bounded_too(store: enact.Store) -> None:
    prompt = "p" * 16_384
    NEXT.extend([(lambda: ErrLlm(prompt + "1"), None), (lambda: ErrLlm(prompt + "2"), None)])
    invocation = ErrProgram().invoke(enact.Str("x"))
    with invocation.response.modify() as response:
        response.output = None

    replayed = ErrProgram().invoke(
        enact.Str("x"), replay_from=invocation, raise_on_invocation_error=False
    )

    recorded = replayed.get_raised()
    assert isinstance(recorded, enact.ReplayError)
    assert len(str(recorded).encode()) < LIMIT
