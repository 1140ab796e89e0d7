"""Field annotations are checked when a resource is committed; tuple fields round-trip
(issue 15)."""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

import pytest

import enact
import enact_store as es


@enact.register
@dataclasses.dataclass
class WithInt(enact.Resource):
    n: int


@enact.register
@dataclasses.dataclass
class Mixed(enact.Resource):
    text: str = "t"
    ratio: float = 0.5
    flag: bool = False
    blob: bytes = b""
    words: list[str] = dataclasses.field(default_factory=list)
    scores: dict[str, int] = dataclasses.field(default_factory=dict)
    maybe: int | None = None
    old_style: Optional[str] = None  # noqa: UP045 - Optional is checked too
    inner: WithInt | None = None
    anything: Any = None


@enact.register
@dataclasses.dataclass
class WithTuples(enact.Resource):
    pair: tuple[int, str]
    many: tuple[float, ...] = ()
    nested: list[tuple[int, int]] = dataclasses.field(default_factory=list)
    optional: tuple[str, ...] | None = None


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        (WithInt("3"), "Field 'n' of WithInt must be int (its annotation), got str: '3'"),
        (WithInt(True), "Field 'n' of WithInt must be int (its annotation), got bool: True"),
        (WithInt(3.0), "Field 'n' of WithInt must be int (its annotation), got float: 3.0"),
        (Mixed(text=None), "Field 'text' of Mixed must be str"),  # type: ignore[arg-type]
        (Mixed(ratio="1"), "Field 'ratio' of Mixed must be float"),  # type: ignore[arg-type]
        (Mixed(flag=1), "Field 'flag' of Mixed must be bool"),
        (Mixed(blob="x"), "Field 'blob' of Mixed must be bytes"),  # type: ignore[arg-type]
        (Mixed(words=["a", 1]), "Field 'words' of Mixed must be list[str]"),  # type: ignore[list-item]
        (Mixed(words=("a",)), "Field 'words' of Mixed must be list[str]"),  # type: ignore[arg-type]
        (Mixed(scores={"a": "1"}), "Field 'scores' of Mixed must be dict[str, int]"),  # type: ignore[dict-item]
        (Mixed(maybe=1.5), "Field 'maybe' of Mixed must be int | None"),  # type: ignore[arg-type]
        (Mixed(old_style=3), "Field 'old_style' of Mixed must be str | None"),  # type: ignore[arg-type]
        (Mixed(inner=3), "Field 'inner' of Mixed must be WithInt (a resource) | None"),  # type: ignore[arg-type]
        (WithTuples([1, "a"]), "Field 'pair' of WithTuples must be tuple[int, str]"),  # type: ignore[arg-type]
        (WithTuples((1, 2)), "Field 'pair' of WithTuples must be tuple[int, str]"),  # type: ignore[arg-type]
    ],
)
def test_a_field_that_does_not_fit_its_annotation_is_refused_at_commit(
    resource: enact.ResourceBase, message: str
) -> None:
    with enact.Store() as store:
        with pytest.raises(enact.FieldTypeError) as raised:
            enact.commit(resource)
        assert list(store.backend.iter_objects()) == []  # type: ignore[attr-defined]
    assert message in str(raised.value)
    with pytest.raises(enact.FieldTypeError):
        enact.check_fields(resource)


def test_values_that_fit_are_committed_unchanged() -> None:
    fits = Mixed(
        text=enact.Str("s"),
        ratio=2,  # An int is a float.
        flag=True,
        blob=b"b",
        words=["a"],
        scores={"a": 1},
        maybe=None,
        old_style="o",
        inner=WithInt(1),
        anything=["any", ["legal", {"value": 1}]],
    )
    with enact.Store():
        assert enact.commit(fits)() == fits
    enact.check_fields(fits)


def test_construction_is_not_checked_only_commit() -> None:
    unchecked = WithInt("3")  # Constructing costs nothing extra...
    assert unchecked.n == "3"
    with pytest.raises(enact.FieldTypeError):
        enact.digest(unchecked)  # ...digesting or committing checks.


def test_tuple_fields_round_trip_as_tuples(store: es.Store) -> None:
    value = WithTuples((1, "a"), (0.5, 2.0), [(1, 2), (3, 4)], ("x",))
    with store:
        ref = enact.commit(value)
        read = ref()
    assert read == value
    assert type(read.pair) is tuple
    assert type(read.many) is tuple
    assert type(read.nested) is list
    assert [type(item) for item in read.nested] == [tuple, tuple]
    assert type(read.optional) is tuple
    # The format is unchanged: a tuple digests as the list of its items.
    assert enact.digest(value.pair) == enact.digest([1, "a"])


def test_a_tuple_in_a_field_not_annotated_tuple_reads_back_as_a_list() -> None:
    with enact.Store():
        read = enact.commit(Mixed(anything=(1, 2)))()
    assert read.anything == [1, 2]
