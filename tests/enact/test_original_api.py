"""Code written against the original enact's public names runs on ours (issue 19).

Only ``import enact`` (and the libraries a user would pass in: numpy, Pillow):
each test uses the names as their documentation describes them.
"""

from __future__ import annotations

import dataclasses
import io
import json
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

import enact


@enact.register
@dataclasses.dataclass
class Note(enact.Resource):
    text: str
    previous: enact.Ref[Note] | None = None


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class AddOne(enact.Invokable):
    def call(self, value: enact.Int) -> enact.Int:
        return enact.Int(value + 1)


@enact.typed_invokable(enact.Int, enact.Int)
@dataclasses.dataclass
class ApplyTwice(enact.Invokable):
    fun: enact.InvokableBase = dataclasses.field(default_factory=AddOne)

    def call(self, value: enact.Int) -> enact.Int:
        return self.fun(self.fun(value))


# --- enact.get ----------------------------------------------------------------------


def test_get_dereferences_a_ref_in_the_active_store() -> None:
    with enact.Store():
        first = enact.commit(Note("first"))
        second = enact.commit(Note("second", first))
        assert enact.get(second) == Note("second", first)
        assert enact.get(enact.get(second).previous) == Note("first")


def test_get_of_none_is_none() -> None:
    with enact.Store():
        first = enact.get(enact.commit(Note("first")))
        assert enact.get(first.previous) is None
    assert enact.get(None) is None  # no store needed


def test_get_returns_a_copy() -> None:
    with enact.Store():
        ref = enact.commit(Note("first"))
        note = enact.get(ref)
        note.text = "changed"
        assert enact.get(ref) == Note("first")


def test_get_needs_an_active_store_and_a_ref() -> None:
    ref = enact.Ref(enact.digest(Note("x")))
    with pytest.raises(enact.NoActiveStoreError):
        enact.get(ref)
    with enact.Store(), pytest.raises(enact.NotFound):
        enact.get(ref)
    with enact.Store(), pytest.raises(TypeError, match="Ref or None"):
        enact.get(Note("x"))  # type: ignore[call-overload]


# --- Type aliases ---------------------------------------------------------------------


def test_field_value_and_resource_dict_value_annotate_values() -> None:
    def describe(value: enact.FieldValue) -> enact.ResourceDictValue:
        return enact.Int(value).to_resource_dict()["value"]

    assert describe(3) == 3
    note = Note("a")
    values: list[enact.FieldValue] = list(note.field_values())
    dict_values: list[enact.ResourceDictValue] = list(note.to_resource_dict().values())
    assert values == dict_values == ["a", None]


# --- PPrinter and PPValue ---------------------------------------------------------------


def test_pprinter_formats_like_pformat() -> None:
    with enact.Store():
        first = enact.commit(Note("first"))
        second = enact.commit(Note("second", first))
        value: enact.PPValue = [second, second]
        printer = enact.PPrinter()
        assert printer.pformat(value) == enact.pformat(value)
        assert enact.PPrinter(max_ref_depth=1).pformat(second) == enact.pformat(
            second, max_ref_depth=1
        )
        assert enact.PPrinter(skip_repeated_refs=True).pformat(value) == enact.pformat(
            value, skip_repeated_refs=True
        )
        assert "(repeated)" in enact.PPrinter(skip_repeated_refs=True).pformat(value)


def test_pprinter_prints_to_a_file() -> None:
    out = io.StringIO()
    enact.PPrinter(max_ref_depth=0).pprint(Note("hi"), file=out)
    assert out.getvalue() == "Note(text='hi', previous=None)\n"


# --- Registry errors ---------------------------------------------------------------------


def test_an_unregistered_type_id_raises_resource_not_found() -> None:
    type_id = json.dumps({"name": "nowhere.Unregistered"})
    with pytest.raises(enact.ResourceNotFound, match=r"nowhere\.Unregistered"):
        enact.Registry.get().lookup(type_id)
    with pytest.raises(enact.RegistryError):
        enact.Registry.get().lookup(type_id)


def test_reading_data_of_an_unregistered_type_raises_resource_not_found() -> None:
    data = json.dumps({"#res": json.dumps({"name": "nowhere.Unregistered"})}).encode()
    with pytest.raises(enact.ResourceNotFound) as caught:
        enact.JsonSerializer().deserialize(data)
    # The same error is still what earlier code catches.
    assert isinstance(caught.value, enact.TypeNotRegisteredError)
    assert isinstance(caught.value, enact.DeserializationError)
    assert isinstance(caught.value, LookupError)
    assert isinstance(caught.value, ValueError)


def test_registry_errors_are_the_same_objects_in_one_tree() -> None:
    assert enact.ResourceNotFound is enact.TypeNotRegisteredError
    assert issubclass(enact.ResourceNotFound, enact.RegistryError)
    assert issubclass(enact.RegistryError, enact.EnactError)
    assert issubclass(enact.RegistryError, LookupError)


# --- PackedResource -----------------------------------------------------------------------


def test_packed_resources_of_equal_resources_are_equal() -> None:
    assert enact.Ref.pack(Note("x")) == enact.Ref.pack(Note("x"))
    assert enact.Ref.pack(Note("x")) != enact.Ref.pack(Note("y"))
    packed = enact.Ref.pack(Note("x"))
    assert enact.PackedResource(packed.data, packed.ref) == packed
    with pytest.raises(AttributeError):
        packed.ref = enact.Ref.pack(Note("y")).ref  # type: ignore[misc]


# --- Field-less invokables as dataclass field defaults -------------------------------------


def test_a_field_less_invokable_instance_is_no_dataclass_default() -> None:
    # Python 3.11+ rejects unhashable (mutable) defaults; resources are mutable.
    with pytest.raises(ValueError, match=r"mutable default .* use default_factory"):

        @dataclasses.dataclass
        class Broken(enact.Invokable):
            fun: enact.InvokableBase = AddOne()  # noqa: RUF009 - the case under test


def test_a_field_less_invokable_default_works_with_default_factory() -> None:
    with enact.Store():
        invocation = ApplyTwice().invoke(enact.commit(enact.Int(1)))
        assert invocation.get_output() == 3
        assert [child.request().invokable() for child in invocation.get_children()] == [
            AddOne(),
            AddOne(),
        ]
        # Each instance gets its own default, and they are equal (same content, same digest).
        assert ApplyTwice().fun is not ApplyTwice().fun
        assert enact.digest(ApplyTwice()) == enact.digest(ApplyTwice(AddOne()))
        assert invocation.replay() == invocation


# --- Media ---------------------------------------------------------------------------------


def test_image_wraps_a_pil_image() -> None:
    pixels = PILImage.new("RGB", (64, 64), (200, 100, 0))
    with enact.Store():
        ref = enact.commit(enact.Image(pixels))
        got = enact.get(ref)
        assert isinstance(got, enact.Image)
        assert got.image.tobytes() == pixels.tobytes()
        assert enact.pformat(got) == "<Image 64x64 RGB>"
        assert enact.commit(enact.Image(pixels.copy())) == ref


def test_nparray_wraps_an_ndarray() -> None:
    values = np.arange(12, dtype=np.float32).reshape(3, 4)
    with enact.Store():
        ref = enact.commit(enact.NPArray(values))
        got = enact.get(ref)
        assert isinstance(got, enact.NPArray)
        assert np.array_equal(got.array, values)
        assert got.array.dtype == np.float32
        assert enact.pformat(got) == "<NPArray float32[3, 4]>"
        assert enact.commit(enact.NPArray(values.copy())) == ref


@enact.typed_invokable(enact.NPArray, enact.NPArray)
@dataclasses.dataclass
class Normalize(enact.Invokable):
    def call(self, vector: enact.NPArray) -> enact.NPArray:
        values = vector.array
        return enact.NPArray(values / np.linalg.norm(values))


def test_media_flow_through_tracked_invocations_and_replay() -> None:
    with enact.Store():
        invocation = Normalize().invoke(enact.commit(enact.NPArray(np.array([3.0, 4.0]))))
        output: Any = invocation.get_output()
        assert output.array.tolist() == [0.6, 0.8]
        assert invocation.replay() == invocation
