"""Strings must be Unicode text: one rule, at commit, on every backend.

A lone surrogate (a code point of U+D800-U+DFFF on its own, as text decoded
with errors='surrogateescape' holds) cannot be encoded as UTF-8, so no
persistent store can keep it; every store refuses it at commit, naming where.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pytest
from _store_testlib import Box, Pair

import enact_resource as er
import enact_store as es

LONE = "\udcff"  # b"\xff".decode("utf-8", "surrogateescape")


class Named(er.ResourceBase):
    """A resource whose field names are given at run time (not a dataclass)."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.fields = fields

    @classmethod
    def field_names(cls) -> Iterable[str]:
        return ["ok", "bad" + LONE]

    def field_values(self) -> Iterable[Any]:
        return [self.fields[name] for name in self.field_names()]

    @classmethod
    def from_fields(cls, field_dict: Mapping[str, Any]) -> Named:
        return cls(dict(field_dict))


# (what to commit, where the error says the string is)
PLACES: dict[str, tuple[Any, str]] = {
    "field": (Box("caf" + LONE), "field value of Box"),
    "list item": (Box(["fine", "x" + LONE]), "field value[1] of Box"),
    "long list of strs": (Box([f"s{i}" for i in range(30)] + [LONE]), "field value[30] of Box"),
    "mapping key": (Box({"k" + LONE: 1}), "A key of the mapping in field value of Box"),
    "mapping value": (Box({"k": LONE}), "field value['k'] of Box"),
    "nested resource": (Pair(zeta=Box(LONE), alpha=1), "field zeta.value of Pair"),
    "Str in a list": (Box([er.Str("a"), er.Str(LONE)]), "field value[1] of Box"),
    "Str": (er.Str("a" + LONE), "the Str value"),
    "surrogate pair as two code points": (Box("\ud83d\ude00"), "field value of Box"),
    "beside bytes": (Box([b"\x00\xff", "x" + LONE]), "field value[1] of Box"),
    "field name": (Named({"ok": 1, "bad" + LONE: 2}), "A field name of the resource"),
}


@pytest.mark.parametrize("place", list(PLACES))
def test_a_lone_surrogate_is_refused_at_commit_on_every_backend(
    store: es.Store, place: str
) -> None:
    resource, where = PLACES[place]

    with pytest.raises(er.FieldTypeError, match="lone surrogate") as caught:
        store.commit(resource)

    assert where in str(caught.value)
    assert "\\udcff" in str(caught.value) or "\\ud83d" in str(caught.value)
    str(caught.value).encode("utf-8")  # The message itself is printable text.
    assert list(store.backend.iter_digests()) == []


def test_digest_refuses_a_lone_surrogate_in_any_value() -> None:
    for value in (["x", LONE], {LONE: 1}, LONE, Box(LONE)):
        with pytest.raises(er.FieldTypeError, match="lone surrogate"):
            er.digest(value)
