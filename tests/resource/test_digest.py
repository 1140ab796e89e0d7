"""Digests (SPEC 3.2): sha256 of an exactly specified byte stream."""

import dataclasses
import hashlib
import math

import pytest

import enact_resource as er

# Pinned by the tutorial (In [7] prints this as the reference of MyResource('hello', 42)).
MY_RESOURCE_DIGEST = "947051f773d0e01ed76be7506fe4cfde5be54d35eef91f10b488d3e8b789ee3b"

MY_RESOURCE_SOURCE = """
import dataclasses

import enact


@dataclasses.dataclass
class MyResource(enact.Resource):
    my_field: str
    my_other_field: int
"""


def _run_as_main(source: str) -> dict:
    """Executes source as if it were the __main__ module; returns its namespace."""
    namespace: dict = {"__name__": "__main__"}
    exec(source, namespace)
    return namespace


def _sha256(stream: str) -> str:
    return hashlib.sha256(stream.encode()).hexdigest()


@dataclasses.dataclass
class Box(er.Resource):
    value: object


@dataclasses.dataclass
class ZetaAlpha(er.Resource):
    zeta: object
    alpha: object


# --- pinned figures ------------------------------------------------------------


def test_tutorial_resource_digest_is_the_pinned_value() -> None:
    my_resource = _run_as_main(MY_RESOURCE_SOURCE)["MyResource"]

    assert er.digest(my_resource("hello", 42)) == MY_RESOURCE_DIGEST


def test_str_resource_digest_starts_with_the_pinned_prefix() -> None:
    assert er.digest(er.Str("World")).startswith("ae44ee")


# --- the stream ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "stream"),
    [
        (7, "i7"),
        (-(2**70), f"i{-(2**70)}"),
        (True, "i1"),
        (False, "i0"),
        (1.5, "f1.5"),
        (float("nan"), "fnan"),
        (float("-inf"), "f-inf"),
        (-0.0, "f-0.0"),
        ("it's", "s" + repr("it's")),
        ("", "s''"),
        (None, "n"),
        ([1, "a"], "seq[i1s'a']"),
        ((), "seq[]"),
        ({"b": 1, "a": None}, "map['a'n'b'i1]"),
    ],
)
def test_value_digest_is_sha256_of_its_spec_stream(value: object, stream: str) -> None:
    assert er.digest(value) == _sha256(stream)


def test_bytes_digest_streams_length_colon_and_raw_bytes() -> None:
    assert er.digest(b"\x00\xff") == hashlib.sha256(b"b2:\x00\xff").hexdigest()


def test_resource_digest_streams_type_id_and_fields_in_declared_order() -> None:
    stream = "res[" + ZetaAlpha.type_id() + "'zeta'" + "i1" + "'alpha'" + "i2" + "]"

    assert er.digest(ZetaAlpha(zeta=1, alpha=2)) == _sha256(stream)


def test_resource_type_digest_streams_its_type_id() -> None:
    assert er.digest(ZetaAlpha) == _sha256("type[" + ZetaAlpha.type_id() + "]")


def test_non_ascii_text_is_streamed_as_utf8() -> None:
    text = "h\u00e9llo \u4e16\u754c \U0001f600"

    assert er.digest(text) == hashlib.sha256(("s" + repr(text)).encode("utf-8")).hexdigest()


# --- what collides and what does not -------------------------------------------


def test_byte_strings_split_differently_digest_differently() -> None:
    assert er.digest([b"ab", b"c"]) != er.digest([b"a", b"bc"])


def test_dicts_with_same_items_in_different_order_digest_alike() -> None:
    assert er.digest({"a": 1, "b": 2}) == er.digest({"b": 2, "a": 1})


def test_resources_holding_reordered_dicts_digest_alike() -> None:
    assert er.digest(Box({"x": [1], "y": "z"})) == er.digest(Box({"y": "z", "x": [1]}))


def test_list_and_tuple_digest_alike() -> None:
    assert er.digest([1, "a", b"b"]) == er.digest((1, "a", b"b"))


def test_true_digests_like_one() -> None:
    assert er.digest(True) == er.digest(1)


def test_false_digests_like_zero() -> None:
    assert er.digest(False) == er.digest(0)


def test_nan_inf_negative_zero_and_zero_digest_distinctly() -> None:
    values = [float("nan"), float("inf"), float("-inf"), -0.0, 0.0]

    assert len({er.digest(value) for value in values}) == len(values)


def test_int_and_equal_float_digest_differently() -> None:
    assert er.digest(1) != er.digest(1.0)


def test_str_and_bytes_with_same_content_digest_differently() -> None:
    assert er.digest("ab") != er.digest(b"ab")


def test_none_and_empty_string_digest_differently() -> None:
    assert er.digest(None) != er.digest("")


def test_empty_list_and_empty_dict_digest_differently() -> None:
    assert er.digest([]) != er.digest({})


def test_str_resource_and_plain_str_digest_differently() -> None:
    assert er.digest(er.Str("x")) != er.digest("x")


def test_resource_and_its_type_digest_differently() -> None:
    assert er.digest(er.NoneResource()) != er.digest(er.NoneResource)


def test_nan_digests_the_same_every_time() -> None:
    assert er.digest(Box(float("nan"))) == er.digest(Box(math.nan))


def test_integers_beyond_64_bits_digest_distinctly() -> None:
    assert er.digest(2**64) != er.digest(2**64 + 1)


def test_integer_with_thousands_of_digits_has_a_digest() -> None:
    huge = 10**5000

    assert er.digest(huge) == _sha256("i" + "1" + "0" * 5000)


# --- resources, ResourceDicts and field order -----------------------------------


def test_resource_and_its_resource_dict_digest_alike() -> None:
    resource = Box([ZetaAlpha(1, b"x"), {"k": ZetaAlpha}])

    assert er.digest(resource.to_resource_dict()) == er.digest(resource)


def test_resource_dict_with_keys_in_reverse_order_digests_like_the_resource() -> None:
    resource = ZetaAlpha(zeta="z", alpha="a")
    reversed_dict = er.ResourceDict(ZetaAlpha, {"alpha": "a", "zeta": "z"})

    assert list(reversed_dict) == ["alpha", "zeta"]
    assert er.digest(reversed_dict) == er.digest(resource)


def test_resources_differing_in_one_field_digest_differently() -> None:
    assert er.digest(ZetaAlpha(1, 2)) != er.digest(ZetaAlpha(1, 3))


def test_swapping_field_values_changes_the_digest() -> None:
    assert er.digest(ZetaAlpha(1, 2)) != er.digest(ZetaAlpha(2, 1))


def test_digest_is_lowercase_hex_sha256() -> None:
    result = er.digest(Box("x"))

    assert len(result) == 64
    assert set(result) <= set("0123456789abcdef")


# --- errors ----------------------------------------------------------------------


def test_digest_of_list_containing_itself_raises_field_type_error() -> None:
    cyclic: list = [1]
    cyclic.append(cyclic)

    with pytest.raises(er.FieldTypeError, match="cycle"):
        er.digest(Box(cyclic))


def test_digest_of_dict_containing_itself_raises_field_type_error() -> None:
    cyclic: dict = {}
    cyclic["self"] = cyclic

    with pytest.raises(er.FieldTypeError, match="cycle"):
        er.digest(Box(cyclic))


def test_digest_of_resource_containing_itself_raises_field_type_error() -> None:
    box = Box(None)
    box.value = [box]

    with pytest.raises(er.FieldTypeError, match="cycle"):
        er.digest(box)


def test_same_list_appearing_twice_is_not_a_cycle() -> None:
    shared = [1, 2]

    assert er.digest(Box([shared, shared])) == er.digest(Box([[1, 2], [1, 2]]))


def test_digest_of_unsupported_value_raises_field_type_error_naming_its_type() -> None:
    with pytest.raises(er.FieldTypeError, match=r"unsupported field type <class 'set'>"):
        er.digest(Box({1, 2}))


def test_digest_of_mapping_with_non_str_key_raises_field_type_error() -> None:
    with pytest.raises(er.FieldTypeError, match="mapping key"):
        er.digest(Box({1: "one"}))


def test_a_type_without_fields_digests_by_its_type_id_even_after_gaining_fields() -> None:
    class Late(er.Resource):
        pass

    Late.__module__, Late.__qualname__ = "tests.late", "Late"
    before = er.digest(Late())
    assert er.digest(Late()) == before
    assert before == hashlib.sha256(("res[" + Late.type_id() + "]").encode()).hexdigest()

    Late.__annotations__ = {"x": int}
    Late.x = 0  # type: ignore[attr-defined]
    dataclasses.dataclass(Late)

    assert Late.field_names() == ("x",)
    assert er.digest(Late(x=0)) != before  # type: ignore[call-arg]
