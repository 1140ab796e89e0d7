"""pprint and pformat (SPEC 4): the indented, ref-following format of the tutorial.

Invocations live in a later package, so the tutorial's In [12] and In [13]
outputs are reproduced with look-alike resources that have the same class and
field names. Their digests differ from the tutorial's, so the expected texts
use the first six hex digits of the real refs.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterator
from typing import Any

import pytest

import enact_resource as er
import enact_store as es


@dataclasses.dataclass
class MyResource(er.Resource):
    my_field: str
    my_other_field: int


@dataclasses.dataclass
class Box(er.Resource):
    value: Any


@dataclasses.dataclass
class Primitives(er.Resource):
    flag: bool
    ratio: float
    nothing: None
    text: str
    data: bytes


@dataclasses.dataclass
class HelloEnact(er.Resource):
    greeting: str = "Hello"


@dataclasses.dataclass
class Sampler(er.Resource):
    options: list[str]


@dataclasses.dataclass
class SampleAndGreet(er.Resource):
    greeting_sampler: Sampler


@dataclasses.dataclass
class Request(er.Resource):
    invokable: es.Ref[Any]
    input: es.Ref[Any]


@dataclasses.dataclass
class Response(er.Resource):
    invokable: es.Ref[Any]
    output: es.Ref[Any] | None
    raised: es.Ref[Any] | None
    raised_here: bool
    children: list[es.Ref[Any]]


@dataclasses.dataclass
class Invocation(er.Resource):
    request: es.Ref[Request]
    response: es.Ref[Response]


@dataclasses.dataclass
class Node(er.Resource):
    """A link in a chain of refs."""

    child: es.Ref[Any] | None


@dataclasses.dataclass
class Pair(er.Resource):
    """A diamond in a DAG: both fields usually point at the same resource."""

    left: es.Ref[Any]
    right: es.Ref[Any]


@pytest.fixture
def store() -> Iterator[es.Store]:
    with es.Store() as active:
        yield active


def h(ref: es.Ref[Any] | None) -> str:
    """The six hex digits the format shows for a ref."""
    assert ref is not None
    return ref.digest[:6]


def lines(*text: str) -> str:
    return "\n".join(text)


def invoke(
    invokable: er.ResourceBase,
    input: er.ResourceBase,
    output: er.ResourceBase,
    children: list[es.Ref[Any]] | None = None,
) -> Invocation:
    """Builds a tracked invocation the way the tutorial's Invokable.invoke does."""
    invokable_ref = es.commit(invokable)
    request = Request(invokable=invokable_ref, input=es.commit(input))
    response = Response(
        invokable=invokable_ref,
        output=es.commit(output),
        raised=None,
        raised_here=False,
        children=children or [],
    )
    return Invocation(request=es.commit(request), response=es.commit(response))


# --- The tutorial's shapes. ---


@pytest.mark.usefixtures("store")
def test_invocation_follows_refs_as_blocks_or_one_line_targets() -> None:
    invocation = invoke(HelloEnact(), er.Str("World"), er.Str("Hello World!"))
    greeter = es.commit(HelloEnact())

    assert es.pformat(invocation) == lines(
        "Invocation:",
        "  request:",
        f"    -> Request#{h(invocation.request)}:",
        f"      invokable: -> HelloEnact(greeting='Hello')#{h(greeter)}",
        f"      input: -> 'World'#{h(es.commit(er.Str('World')))}",
        "  response:",
        f"    -> Response#{h(invocation.response)}:",
        f"      invokable: -> HelloEnact(greeting='Hello')#{h(greeter)}",
        f"      output: -> 'Hello World!'#{h(es.commit(er.Str('Hello World!')))}",
        "      raised: None",
        "      raised_here: False",
        "      children: []",
    )


def _nested_invocation() -> tuple[Invocation, Invocation]:
    """The tutorial's In [13]: SampleAndGreet calling Sampler once."""
    sampler = Sampler(options=["Hello", "Hi", "Greetings"])
    child = invoke(sampler, er.NoneResource(), er.Str("Hello"))
    parent = invoke(
        SampleAndGreet(greeting_sampler=sampler),
        er.Str("World"),
        er.Str("Hello World"),
        children=[es.commit(child)],
    )
    return parent, child


@pytest.mark.usefixtures("store")
def test_nested_invocation_prints_inline_resources_lists_and_child_refs() -> None:
    parent, child = _nested_invocation()
    greet = h(parent.request().invokable)
    sampler = h(child.request().invokable)
    world = h(parent.request().input)
    sampler_block = [
        "          greeting_sampler:",
        "            Sampler:",
        "              options:",
        "                [",
        "                  'Hello'",
        "                  'Hi'",
        "                  'Greetings']",
    ]
    options_block = [
        "                    options:",
        "                      [",
        "                        'Hello'",
        "                        'Hi'",
        "                        'Greetings']",
    ]

    assert es.pformat(parent) == lines(
        "Invocation:",
        "  request:",
        f"    -> Request#{h(parent.request)}:",
        "      invokable:",
        f"        -> SampleAndGreet#{greet}:",
        *sampler_block,
        f"      input: -> 'World'#{world}",
        "  response:",
        f"    -> Response#{h(parent.response)}:",
        "      invokable:",
        f"        -> SampleAndGreet#{greet}:",
        *sampler_block,
        f"      output: -> 'Hello World'#{h(parent.response().output)}",
        "      raised: None",
        "      raised_here: False",
        "      children:",
        "        [",
        f"          -> Invocation#{h(parent.response().children[0])}:",
        "            request:",
        f"              -> Request#{h(child.request)}:",
        "                invokable:",
        f"                  -> Sampler#{sampler}:",
        *options_block,
        f"                input: -> NoneResource()#{h(child.request().input)}",
        "            response:",
        f"              -> Response#{h(child.response)}:",
        "                invokable:",
        f"                  -> Sampler#{sampler}:",
        *options_block,
        f"                output: -> 'Hello'#{h(child.response().output)}",
        "                raised: None",
        "                raised_here: False",
        "                children: []]",
    )


def test_list_of_strings_prints_one_item_per_line_and_closes_on_the_last() -> None:
    sampler = Sampler(options=["Hello", "Hi", "Greetings"])

    assert es.pformat(sampler) == lines(
        "Sampler:",
        "  options:",
        "    [",
        "      'Hello'",
        "      'Hi'",
        "      'Greetings']",
    )


# --- One-line values. ---


def test_resource_with_only_primitive_fields_prints_on_one_line() -> None:
    assert (
        es.pformat(MyResource(my_field="hello", my_other_field=42))
        == "MyResource(my_field='hello', my_other_field=42)"
    )


def test_one_line_resource_shows_bool_float_none_and_bytes_sizes() -> None:
    value = Primitives(flag=True, ratio=2.5, nothing=None, text="it's", data=b"bytes")

    assert (
        es.pformat(value)
        == """Primitives(flag=True, ratio=2.5, nothing=None, text="it's", data=<5 bytes>)"""
    )


def test_resource_without_fields_prints_empty_parentheses() -> None:
    assert es.pformat(er.NoneResource()) == "NoneResource()"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (er.Str("Hello World"), "'Hello World'"),
        (er.Int(42), "42"),
        (er.Float(1.5), "1.5"),
        (er.Bytes(b"abc"), "<3 bytes>"),
    ],
)
def test_value_resources_print_as_the_plain_value(value: er.ResourceBase, text: str) -> None:
    assert es.pformat(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "None"), (True, "True"), (False, "False"), (7, "7"), (0.25, "0.25"), ("x", "'x'")],
)
def test_plain_values_print_as_their_repr(value: object, text: str) -> None:
    assert es.pformat(value) == text


def test_bytes_print_as_their_size() -> None:
    assert es.pformat(b"") == "<0 bytes>"
    assert es.pformat(Box(value=b"\x00" * 1000)) == "Box(value=<1000 bytes>)"


def test_value_resource_fields_count_as_primitives() -> None:
    assert es.pformat(Box(value=er.Str("hi"))) == "Box(value='hi')"


def test_one_line_field_value_prints_after_the_field_name() -> None:
    value = Box(value=MyResource(my_field="hello", my_other_field=42))

    assert es.pformat(value) == lines(
        "Box:",
        "  value: MyResource(my_field='hello', my_other_field=42)",
    )


def test_field_holding_a_resource_with_nested_fields_prints_a_block() -> None:
    value = Box(value=Box(value=[1]))

    assert es.pformat(value) == lines(
        "Box:",
        "  value:",
        "    Box:",
        "      value:",
        "        [",
        "          1]",
    )


# --- Containers and types. ---


def test_empty_list_and_map_print_inline() -> None:
    assert es.pformat([]) == "[]"
    assert es.pformat({}) == "{}"
    assert es.pformat(Box(value=[])) == lines("Box:", "  value: []")
    assert es.pformat(Box(value={})) == lines("Box:", "  value: {}")


def test_nested_lists_close_on_the_last_line() -> None:
    assert es.pformat([[1, 2], [3]]) == lines(
        "[",
        "  [",
        "    1",
        "    2]",
        "  [",
        "    3]]",
    )


def test_tuples_print_like_lists() -> None:
    assert es.pformat(("a", None)) == lines("[", "  'a'", "  None]")


def test_map_prints_repr_keys_and_closes_on_the_last_item() -> None:
    value = {"a": 1, "b": [True], "c": MyResource(my_field="x", my_other_field=0)}

    assert es.pformat(value) == lines(
        "{",
        "  'a': 1",
        "  'b':",
        "    [",
        "      True]",
        "  'c': MyResource(my_field='x', my_other_field=0)}",
    )


def test_map_in_a_field_prints_as_a_block() -> None:
    assert es.pformat(Box(value={"k": {"inner": b"ab"}})) == lines(
        "Box:",
        "  value:",
        "    {",
        "      'k':",
        "        {",
        "          'inner': <2 bytes>}}",
    )


def test_resource_types_print_as_type_names() -> None:
    assert es.pformat(er.Str) == "<type Str>"
    assert es.pformat(Box(value=MyResource)) == lines("Box:", "  value: <type MyResource>")
    assert es.pformat([er.Int]) == lines("[", "  <type Int>]")


# --- Refs. ---


@pytest.mark.usefixtures("store")
def test_top_level_ref_to_one_line_target_prints_arrow_and_digest() -> None:
    ref = es.commit(er.Str("World"))

    assert es.pformat(ref) == f"-> 'World'#{h(ref)}"


@pytest.mark.usefixtures("store")
def test_top_level_ref_to_block_prints_name_and_digest_header() -> None:
    ref = es.commit(Box(value=[1]))

    assert es.pformat(ref) == lines(f"-> Box#{h(ref)}:", "  value:", "    [", "      1]")


@pytest.mark.usefixtures("store")
def test_refs_in_lists_and_maps_are_followed() -> None:
    one = es.commit(er.Int(1))
    box = es.commit(Box(value=[]))

    assert es.pformat({"refs": [one, box]}) == lines(
        "{",
        "  'refs':",
        "    [",
        f"      -> 1#{h(one)}",
        f"      -> Box#{h(box)}:",
        "        value: []]}",
    )


@pytest.mark.usefixtures("store")
def test_ref_to_a_stored_ref_prints_it_as_a_one_line_resource() -> None:
    inner = es.commit(er.Str("x"))
    outer = es.commit(inner)

    assert es.pformat(outer) == f"-> Ref(digest='{inner.digest}')#{h(outer)}"


def test_following_a_ref_without_an_active_store_raises() -> None:
    with es.Store():
        ref = es.commit(er.Str("x"))

    with pytest.raises(es.NoActiveStoreError):
        es.pformat(Box(value=ref))


def test_following_a_ref_missing_from_the_store_raises() -> None:
    with es.Store():
        ref = es.commit(er.Str("elsewhere"))

    with es.Store(), pytest.raises(es.NotFound):
        es.pformat(es.Ref(ref.digest))  # A fresh ref, without the data cached by commit.


# --- max_ref_depth. ---


def test_max_ref_depth_zero_prints_refs_unloaded_without_a_store() -> None:
    with es.Store():
        invocation = invoke(HelloEnact(), er.Str("World"), er.Str("Hello World!"))
        ref = es.commit(invocation)

    assert es.pformat(invocation, max_ref_depth=0) == lines(
        "Invocation:",
        f"  request: -> #{h(invocation.request)}",
        f"  response: -> #{h(invocation.response)}",
    )
    assert es.pformat(ref, max_ref_depth=0) == f"-> #{h(ref)}"


@pytest.mark.usefixtures("store")
def test_max_ref_depth_one_follows_only_the_first_hop() -> None:
    invocation = invoke(HelloEnact(), er.Str("World"), er.Str("Hello World!"))
    greeter = h(invocation.request().invokable)

    assert es.pformat(invocation, max_ref_depth=1) == lines(
        "Invocation:",
        "  request:",
        f"    -> Request#{h(invocation.request)}:",
        f"      invokable: -> #{greeter}",
        f"      input: -> #{h(invocation.request().input)}",
        "  response:",
        f"    -> Response#{h(invocation.response)}:",
        f"      invokable: -> #{greeter}",
        f"      output: -> #{h(invocation.response().output)}",
        "      raised: None",
        "      raised_here: False",
        "      children: []",
    )


@pytest.mark.usefixtures("store")
def test_max_ref_depth_counts_hops_from_a_top_level_ref() -> None:
    leaf = es.commit(er.Str("leaf"))
    middle = es.commit(Node(child=leaf))
    top = es.commit(Node(child=middle))

    assert es.pformat(top, max_ref_depth=2) == lines(
        f"-> Node#{h(top)}:",
        "  child:",
        f"    -> Node#{h(middle)}:",
        f"      child: -> #{h(leaf)}",
    )
    assert es.pformat(top, max_ref_depth=3) == lines(
        f"-> Node#{h(top)}:",
        "  child:",
        f"    -> Node#{h(middle)}:",
        f"      child: -> 'leaf'#{h(leaf)}",
    )


# --- skip_repeated_refs. ---


@pytest.mark.usefixtures("store")
def test_skip_repeated_refs_marks_a_repeated_one_line_target() -> None:
    invocation = invoke(HelloEnact(), er.Str("World"), er.Str("Hello World!"))
    greeter = h(invocation.request().invokable)

    text = es.pformat(invocation, skip_repeated_refs=True)

    assert f"      invokable: -> HelloEnact(greeting='Hello')#{greeter}\n" in text
    assert f"      invokable: -> HelloEnact(greeting='Hello')#{greeter} (repeated)\n" in text


@pytest.mark.usefixtures("store")
def test_skip_repeated_refs_does_not_expand_a_repeated_block_again() -> None:
    parent, child = _nested_invocation()
    greet = h(parent.request().invokable)
    sampler = h(child.request().invokable)

    assert es.pformat(parent, skip_repeated_refs=True) == lines(
        "Invocation:",
        "  request:",
        f"    -> Request#{h(parent.request)}:",
        "      invokable:",
        f"        -> SampleAndGreet#{greet}:",
        "          greeting_sampler:",
        "            Sampler:",
        "              options:",
        "                [",
        "                  'Hello'",
        "                  'Hi'",
        "                  'Greetings']",
        f"      input: -> 'World'#{h(parent.request().input)}",
        "  response:",
        f"    -> Response#{h(parent.response)}:",
        f"      invokable: -> SampleAndGreet#{greet} (repeated)",
        f"      output: -> 'Hello World'#{h(parent.response().output)}",
        "      raised: None",
        "      raised_here: False",
        "      children:",
        "        [",
        f"          -> Invocation#{h(parent.response().children[0])}:",
        "            request:",
        f"              -> Request#{h(child.request)}:",
        "                invokable:",
        f"                  -> Sampler#{sampler}:",
        "                    options:",
        "                      [",
        "                        'Hello'",
        "                        'Hi'",
        "                        'Greetings']",
        f"                input: -> NoneResource()#{h(child.request().input)}",
        "            response:",
        f"              -> Response#{h(child.response)}:",
        f"                invokable: -> Sampler#{sampler} (repeated)",
        f"                output: -> 'Hello'#{h(child.response().output)}",
        "                raised: None",
        "                raised_here: False",
        "                children: []]",
    )


@pytest.mark.usefixtures("store")
def test_repeated_refs_are_expanded_each_time_by_default() -> None:
    shared = es.commit(Box(value=[1]))
    pair = Pair(left=shared, right=shared)

    expanded = [f"    -> Box#{h(shared)}:", "      value:", "        [", "          1]"]
    assert es.pformat(pair) == lines("Pair:", "  left:", *expanded, "  right:", *expanded)
    assert es.pformat(pair, skip_repeated_refs=True) == lines(
        "Pair:", "  left:", *expanded, f"  right: -> Box#{h(shared)} (repeated)"
    )


@pytest.mark.usefixtures("store")
def test_skip_repeated_refs_keeps_a_shared_dag_linear() -> None:
    # 40 layers of diamonds: 2**40 paths, but only 41 distinct resources.
    ref: es.Ref[Any] = es.commit(er.Str("bottom"))
    for _ in range(40):
        ref = es.commit(Pair(left=ref, right=ref))

    text = es.pformat(ref, skip_repeated_refs=True)

    assert len(text.splitlines()) == 40 * 3
    assert text.count("(repeated)") == 40


# --- Scale. ---


def test_deep_nesting_does_not_hit_the_recursion_limit() -> None:
    value: Any = []
    for _ in range(1500):
        value = [value]

    text = es.pformat(value)

    assert text.endswith(" []" + "]" * 1500)
    assert len(text.splitlines()) == 1501


@pytest.mark.usefixtures("store")
def test_long_ref_chain_does_not_hit_the_recursion_limit() -> None:
    ref = es.commit(Node(child=None))
    for _ in range(1200):
        ref = es.commit(Node(child=ref))

    text = es.pformat(ref)

    assert text.count("-> Node#") == 1200
    assert text.splitlines()[-1].strip() == "child: -> Node(child=None)#" + text[-6:]


def test_each_resource_is_visited_once() -> None:
    calls = 0

    @dataclasses.dataclass
    class Counted(er.Resource):
        value: Any

        def field_items(self) -> Iterator[tuple[str, Any]]:
            nonlocal calls
            calls += 1
            return super().field_items()

    value: Any = Counted(value=1)
    for _ in range(200):
        value = Counted(value=[value])

    es.pformat(value)

    assert calls == 201


# --- pprint. ---


@pytest.mark.usefixtures("store")
def test_pprint_writes_the_text_and_a_newline_to_file() -> None:
    ref = es.commit(er.Str("World"))
    out = io.StringIO()

    es.pprint(Box(value=[ref]), file=out)

    assert out.getvalue() == lines("Box:", "  value:", "    [", f"      -> 'World'#{h(ref)}]\n")


def test_pprint_passes_options_through() -> None:
    with es.Store():
        ref = es.commit(er.Str("World"))
    out = io.StringIO()

    es.pprint(ref, max_ref_depth=0, file=out)

    assert out.getvalue() == f"-> #{h(ref)}\n"


def test_pprint_writes_to_stdout_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    es.pprint(er.Str("Hello World"))

    assert capsys.readouterr().out == "'Hello World'\n"
