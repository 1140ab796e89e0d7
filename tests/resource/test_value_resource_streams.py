"""The value resources' fast digest paths give exactly the stream of SPEC 3.2."""

import hashlib

from hypothesis import given
from hypothesis import strategies as st

import enact_resource as er


def _spec_digest(resource: er.ResourceBase, value_stream: str) -> str:
    stream = "res[" + type(resource).type_id() + "'value'" + value_stream + "]"
    return hashlib.sha256(stream.encode()).hexdigest()


@given(st.text())
def test_str_digest_follows_the_spec_stream(text: str) -> None:
    assert er.digest(er.Str(text)) == _spec_digest(er.Str(text), "s" + repr(text))


@given(st.integers(min_value=-(10**700), max_value=10**700))
def test_int_digest_follows_the_spec_stream(number: int) -> None:
    assert er.digest(er.Int(number)) == _spec_digest(er.Int(number), f"i{number}")


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_float_digest_follows_the_spec_stream(number: float) -> None:
    assert er.digest(er.Float(number)) == _spec_digest(er.Float(number), "f" + repr(number))


@given(st.binary())
def test_bytes_digest_follows_the_spec_stream(data: bytes) -> None:
    stream = ("res[" + er.Bytes.type_id() + "'value'" + f"b{len(data)}:").encode() + data + b"]"
    assert er.digest(er.Bytes(data)) == hashlib.sha256(stream).hexdigest()


@given(st.lists(st.integers(min_value=-(10**30), max_value=10**30), min_size=0, max_size=60))
def test_long_int_lists_digest_like_item_by_item(numbers: list[int]) -> None:
    stream = "seq[" + "".join(f"i{n}" for n in numbers) + "]"
    assert er.digest(numbers) == hashlib.sha256(stream.encode()).hexdigest()


@given(st.lists(st.one_of(st.text(), st.floats(allow_nan=True)), min_size=16, max_size=40))
def test_long_mixed_and_uniform_lists_digest_like_item_by_item(items: list[object]) -> None:
    parts = [("s" + repr(x)) if isinstance(x, str) else ("f" + repr(x)) for x in items]
    stream = "seq[" + "".join(parts) + "]"
    assert er.digest(items) == hashlib.sha256(stream.encode()).hexdigest()


@given(st.lists(st.text(), min_size=16, max_size=40))
def test_value_resources_inside_a_resource_digest_like_their_dicts(texts: list[str]) -> None:
    inside = [er.Str(t) for t in texts]
    assert er.digest(inside) == er.digest([er.Str(t).to_resource_dict() for t in texts])


def test_a_long_int_list_holding_an_int_past_the_text_digit_limit_digests_item_by_item() -> None:
    numbers = [*range(20), 10**5000]
    stream = "seq[" + "".join(f"i{n}" for n in range(20)) + "i1" + "0" * 5000 + "]"

    assert er.digest(numbers) == hashlib.sha256(stream.encode()).hexdigest()
